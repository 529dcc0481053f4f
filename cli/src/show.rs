//! `status` and `topology`, shared by `coral` and `kubectl coral`: fetch
//! from a colony client, print as table/tree, JSON/YAML or an export.

use std::path::Path;

use coral_proto::colony::v1::GetTopologyRequest;

use crate::args::TopologyView;
use crate::client::ColonyClient;
use crate::error::CliError;
use crate::output::{self, OutputFormat, Style};
use crate::render;
use crate::report::{StatusReport, TopologyReport};

pub async fn status(
    client: &ColonyClient,
    location: &str,
    format: OutputFormat,
) -> Result<String, CliError> {
    let report = StatusReport::fetch(client, location).await?;
    if let Some(text) = output::structured(format, &report)? {
        return Ok(text);
    }
    Ok(render::status::render(
        &report,
        Style::detect(),
        chrono::Utc::now(),
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Export {
    Dot,
    Mermaid,
    Json,
}

/// `dot`, `mermaid`, `json`, or a file name with one of their extensions.
fn export_target(value: &str) -> Result<(Export, Option<&Path>), CliError> {
    let by_name = |name: &str| match name {
        "dot" | "gv" => Some(Export::Dot),
        "mermaid" | "mmd" => Some(Export::Mermaid),
        "json" => Some(Export::Json),
        _ => None,
    };
    if let Some(kind) = by_name(value) {
        return Ok((kind, None));
    }
    let path = Path::new(value);
    match path.extension().and_then(|e| e.to_str()).and_then(by_name) {
        Some(kind) => Ok((kind, Some(path))),
        None => Err(CliError::Invalid(format!(
            "--export {value:?}: use dot, mermaid or json (printed), or a file name ending in .dot, .mmd or .json"
        ))),
    }
}

pub async fn topology(
    client: &ColonyClient,
    view: &TopologyView,
    format: OutputFormat,
) -> Result<String, CliError> {
    let export = view.export.as_deref().map(export_target).transpose()?;
    let request = GetTopologyRequest {
        window_seconds: view.window,
        namespace: view.namespace.clone().unwrap_or_default(),
        include_external: !view.no_external,
    };
    let report = TopologyReport::fetch(client, request).await?;
    if let Some((kind, path)) = export {
        let text = match kind {
            Export::Dot => render::topology::dot(&report),
            Export::Mermaid => render::topology::mermaid(&report),
            Export::Json => output::structured(OutputFormat::Json, &report)?.unwrap_or_default(),
        };
        return match path {
            None => Ok(text),
            Some(path) => {
                std::fs::write(path, text).map_err(|source| CliError::Write {
                    path: path.to_owned(),
                    source,
                })?;
                Ok(format!(
                    "✓ Topology written to {} ({} edges)\n",
                    path.display(),
                    report.topology.edges.len()
                ))
            }
        };
    }
    if let Some(text) = output::structured(format, &report)? {
        return Ok(text);
    }
    Ok(render::topology::render(&report, Style::detect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_targets() {
        assert_eq!(export_target("dot").unwrap(), (Export::Dot, None));
        assert_eq!(
            export_target("out/topology.dot").unwrap(),
            (Export::Dot, Some(Path::new("out/topology.dot")))
        );
        assert_eq!(export_target("g.mmd").unwrap().0, Export::Mermaid);
        assert!(export_target("png").is_err());
    }
}
