//! `kubectl coral colony list|status`: Colony resources and their status.

use chrono::Utc;
use coral_crds::{Colony, Condition, Connection};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::{Cluster, kube_error};
use crate::args::KubeColonyCommand;
use crate::error::CliError;
use crate::output::{self, OutputFormat, Style, table};
use crate::render::units::duration;

pub async fn run(
    cluster: &Cluster,
    command: KubeColonyCommand,
    format: OutputFormat,
) -> Result<String, CliError> {
    match command {
        KubeColonyCommand::List(args) => list(cluster, args.all_namespaces, format).await,
        KubeColonyCommand::Status(args) => status(cluster, args.name.as_deref(), format).await,
    }
}

fn condition<'a>(colony: &'a Colony, kind: &str) -> Option<&'a Condition> {
    colony
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == kind)
}

fn age(colony: &impl ResourceExt) -> String {
    colony
        .creation_timestamp()
        .map(|t| duration((Utc::now().timestamp() - t.0.as_second()).max(1)))
        .unwrap_or_else(|| "-".into())
}

async fn list(cluster: &Cluster, all: bool, format: OutputFormat) -> Result<String, CliError> {
    let api: Api<Colony> = if all {
        Api::all(cluster.client.clone())
    } else {
        cluster.colonies()
    };
    let colonies = api
        .list(&ListParams::default())
        .await
        .map_err(|e| kube_error("listing Colonies", e))?
        .items;
    if let Some(text) = output::structured(format, &colonies)? {
        return Ok(text);
    }
    if colonies.is_empty() {
        let place = if all {
            "any namespace".to_owned()
        } else {
            format!("namespace {}", cluster.namespace)
        };
        return Ok(format!(
            "No Colonies in {place}. Create one, e.g. kubectl apply -f examples/demo/colony.yaml\n"
        ));
    }
    let style = Style::detect();
    let rows: Vec<Vec<String>> = colonies
        .iter()
        .map(|colony| {
            let ready = condition(colony, "Ready")
                .map(|c| c.status.clone())
                .unwrap_or_else(|| "Unknown".into());
            let status = colony.status.clone().unwrap_or_default();
            let mut row = Vec::new();
            if all {
                row.push(colony.namespace().unwrap_or_default());
            }
            row.extend([
                colony.name_any(),
                colony.spec.application.clone(),
                colony.spec.environment.clone(),
                style.status(&ready, &ready),
                status.endpoint.unwrap_or_else(|| "-".into()),
                status.agents.unwrap_or_else(|| "-".into()),
                age(colony),
            ]);
            row
        })
        .collect();
    let mut header = Vec::new();
    if all {
        header.push("NAMESPACE");
    }
    header.extend([
        "NAME",
        "APPLICATION",
        "ENVIRONMENT",
        "READY",
        "ENDPOINT",
        "AGENTS",
        "AGE",
    ]);
    Ok(table(&header, &rows))
}

async fn status(
    cluster: &Cluster,
    name: Option<&str>,
    format: OutputFormat,
) -> Result<String, CliError> {
    let colony = cluster.colony(name).await?;
    let name = colony.name_any();
    let connections: Vec<Connection> =
        Api::<Connection>::namespaced(cluster.client.clone(), &cluster.namespace)
            .list(&ListParams::default())
            .await
            .map_err(|e| kube_error("listing Connections", e))?
            .items
            .into_iter()
            .filter(|c| c.spec.colony_ref.name == name)
            .collect();
    if format != OutputFormat::Table {
        #[derive(serde::Serialize)]
        struct View<'a> {
            colony: &'a Colony,
            connections: &'a [Connection],
        }
        let view = View {
            colony: &colony,
            connections: &connections,
        };
        return Ok(output::structured(format, &view)?.unwrap_or_default());
    }
    let style = Style::detect();
    let spec = &colony.spec;
    let status = colony.status.clone().unwrap_or_default();
    let storage = if let Some(ch) = &spec.storage.clickhouse {
        format!("clickhouse {} (database {})", ch.url, ch.database)
    } else if let Some(duck) = &spec.storage.duckdb {
        format!("duckdb ({})", duck.size)
    } else {
        "-".into()
    };
    let mut out = format!(
        "{}\n  Namespace:    {}\n  Application:  {} ({})\n  Storage:      {storage}\n  Mesh:         {} · {} · udp/{}\n  Endpoint:     {}\n  Mesh IPv4:    {}\n  Public key:   {}\n  Agents:       {}\n  Components:   {}\n  Age:          {}\n",
        style.bold(&format!("Colony: {name}")),
        cluster.namespace,
        spec.application,
        spec.environment,
        spec.mesh.ipv4_cidr,
        spec.mesh.ipv6_cidr,
        spec.mesh.port,
        status.endpoint.as_deref().unwrap_or("-"),
        status.mesh_ipv4.as_deref().unwrap_or("-"),
        status.mesh_public_key.as_deref().unwrap_or("-"),
        status.agents.as_deref().unwrap_or("-"),
        status.components.as_deref().unwrap_or("-"),
        age(&colony),
    );
    out.push_str("\nConditions:\n");
    if status.conditions.is_empty() {
        out.push_str("  none yet (is coral-operator running?)\n");
    } else {
        let rows: Vec<Vec<String>> = status
            .conditions
            .iter()
            .map(|c| {
                vec![
                    c.type_.clone(),
                    style.status(&c.status, &c.status),
                    c.reason.clone(),
                    c.message.clone(),
                ]
            })
            .collect();
        for line in table(&["TYPE", "STATUS", "REASON", "MESSAGE"], &rows).lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str("\nConnections:\n");
    if connections.is_empty() {
        out.push_str(&format!(
            "  none: connect a component with `kubectl coral connect <component> --selector app=<label> --port <port> --colony {name}`\n"
        ));
    } else {
        let rows: Vec<Vec<String>> = connections
            .iter()
            .map(|c| {
                let ready = c
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
                    .map(|c| c.status.clone())
                    .unwrap_or_else(|| "Unknown".into());
                let pods = c.status.as_ref().map(|s| s.matched_pods).unwrap_or(0);
                let ports = c
                    .spec
                    .ports
                    .iter()
                    .map(|p| p.port.to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                vec![
                    c.spec.component.clone(),
                    style.status(&ready, &ready),
                    pods.to_string(),
                    if ports.is_empty() {
                        "all".into()
                    } else {
                        ports
                    },
                ]
            })
            .collect();
        for line in table(&["COMPONENT", "READY", "PODS", "PORTS"], &rows).lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out.push_str(&format!(
        "\nMore: kubectl coral status --colony {name} -n {} · kubectl coral topology --colony {name} -n {}\n",
        cluster.namespace, cluster.namespace
    ));
    Ok(out)
}
