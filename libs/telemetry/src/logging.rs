//! Log setup shared by Coral binaries: human lines on a terminal, JSON lines
//! otherwise (in cluster), with the `--log-level` / `--log-format` values
//! every binary accepts.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Human,
    Json,
}

/// `EnvFilter` directives for a level. Library noise (h2, hyper, tower)
/// stays at warn unless debug logging is asked for.
pub fn directives(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug,h2=info,hyper=info,hyper_util=info,tower=info",
        LogLevel::Info => "info,h2=warn,hyper=warn,hyper_util=warn,tower=warn",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// Install the global subscriber, writing to stderr.
pub fn init(level: LogLevel, format: LogFormat) {
    let human = match format {
        LogFormat::Human => true,
        LogFormat::Json => false,
        LogFormat::Auto => std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(directives(level)))
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    if human {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_parses_as_a_filter() {
        for level in [
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
        ] {
            assert!(EnvFilter::try_new(directives(level)).is_ok(), "{level:?}");
        }
    }
}
