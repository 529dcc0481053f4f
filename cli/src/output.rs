//! `-o table|json|yaml` and colours (only on a terminal, never with NO_COLOR).

use std::io::IsTerminal;

use clap::ValueEnum;
use serde::Serialize;

use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// Human tables and trees.
    #[default]
    Table,
    /// JSON (proto3 JSON names), for scripts.
    Json,
    /// YAML, for scripts.
    Yaml,
}

/// Text styling for human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colours when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    pub fn plain() -> Style {
        Style { color: false }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }
    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Colour by a status word: up/healthy/connected/running green, …
    pub fn status(&self, status: &str, text: &str) -> String {
        match status {
            "up" | "healthy" | "connected" | "running" | "active" | "True" => self.green(text),
            "degraded" | "stale" | "Unknown" => self.yellow(text),
            "down" | "unhealthy" | "stopped" | "False" => self.red(text),
            _ => text.to_owned(),
        }
    }
}

/// Print `value` as JSON or YAML; `None` for table output (the caller renders).
pub fn structured<T: Serialize>(
    format: OutputFormat,
    value: &T,
) -> Result<Option<String>, CliError> {
    match format {
        OutputFormat::Table => Ok(None),
        OutputFormat::Json => serde_json::to_string_pretty(value)
            .map(|text| Some(text + "\n"))
            .map_err(|e| CliError::Io(e.to_string())),
        OutputFormat::Yaml => {
            // Through serde_json::Value so proto3 JSON names and forms are kept.
            let value = serde_json::to_value(value).map_err(|e| CliError::Io(e.to_string()))?;
            serde_yaml::to_string(&value)
                .map(Some)
                .map_err(|e| CliError::Io(e.to_string()))
        }
    }
}

/// Left-aligned columns separated by at least two spaces; the width of a
/// cell ignores ANSI colour codes.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(visible_width(cell));
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i] - visible_width(cell) + 2;
                text.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Characters shown on screen (ANSI escape sequences excluded).
pub fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_coloured_cells() {
        let style = Style { color: true };
        let text = table(
            &["NAME", "STATUS"],
            &[
                vec!["api".into(), style.green("up")],
                vec!["database".into(), "down".into()],
            ],
        );
        let plain: String = text.replace("\x1b[32m", "").replace("\x1b[0m", "");
        assert_eq!(plain, "NAME      STATUS\napi       up\ndatabase  down\n");
    }

    #[test]
    fn plain_style_adds_nothing() {
        assert_eq!(Style::plain().red("x"), "x");
    }
}
