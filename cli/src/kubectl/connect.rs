//! `kubectl coral connect <component> --selector app=api --port 8080`:
//! server-side applies a Connection (field manager `kubectl-coral`), so
//! running it again updates the same Connection.

use std::collections::BTreeMap;

use coral_crds::{
    Connection, ConnectionPort, ConnectionSpec, LocalObjectReference, PortProtocol, WorkloadKind,
    WorkloadReference,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};

use super::{Cluster, kube_error};
use crate::args::ConnectArgs;
use crate::error::CliError;
use crate::local::init::validate_name;
use crate::output::{self, OutputFormat, Style};

pub const FIELD_MANAGER: &str = "kubectl-coral";

/// `app=api,tier=backend` → match labels.
pub fn parse_selector(text: &str) -> Result<BTreeMap<String, String>, CliError> {
    let mut labels = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            return Err(CliError::Invalid(format!(
                "--selector {text:?}: expected key=value pairs separated by commas (e.g. app=api)"
            )));
        };
        let key = key.trim().trim_end_matches('=');
        if key.is_empty() || key.contains('!') {
            return Err(CliError::Invalid(format!(
                "--selector {text:?}: only equality selectors (key=value) are supported"
            )));
        }
        labels.insert(key.to_owned(), value.trim().to_owned());
    }
    if labels.is_empty() {
        return Err(CliError::Invalid(
            "--selector is empty: give key=value pairs (e.g. app=api)".into(),
        ));
    }
    Ok(labels)
}

/// `Deployment/api` → a workload reference.
pub fn parse_workload(text: &str) -> Result<WorkloadReference, CliError> {
    let invalid = || {
        CliError::Invalid(format!(
            "--workload {text:?}: expected Kind/name with Kind one of Deployment, StatefulSet, DaemonSet, ReplicaSet, Job"
        ))
    };
    let (kind, name) = text.split_once('/').ok_or_else(invalid)?;
    let kind = match kind.to_ascii_lowercase().as_str() {
        "deployment" | "deploy" => WorkloadKind::Deployment,
        "statefulset" | "sts" => WorkloadKind::StatefulSet,
        "daemonset" | "ds" => WorkloadKind::DaemonSet,
        "replicaset" | "rs" => WorkloadKind::ReplicaSet,
        "job" => WorkloadKind::Job,
        _ => return Err(invalid()),
    };
    if name.is_empty() {
        return Err(invalid());
    }
    Ok(WorkloadReference {
        kind,
        name: name.to_owned(),
    })
}

fn parse_protocol(text: &str) -> Result<PortProtocol, CliError> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "tcp" => PortProtocol::Tcp,
        "http" => PortProtocol::Http,
        "grpc" => PortProtocol::Grpc,
        "postgres" | "postgresql" => PortProtocol::Postgres,
        "mysql" => PortProtocol::Mysql,
        "redis" => PortProtocol::Redis,
        _ => {
            return Err(CliError::Invalid(format!(
                "--protocol {text:?}: use tcp, http, grpc, postgres, mysql or redis"
            )));
        }
    })
}

/// The Connection `connect` applies (pure, for tests).
pub fn desired(args: &ConnectArgs, colony: &str, namespace: &str) -> Result<Connection, CliError> {
    validate_name("component", &args.component, 63)?;
    let selector = args
        .selector
        .as_deref()
        .map(parse_selector)
        .transpose()?
        .map(|labels| LabelSelector {
            match_labels: Some(labels),
            match_expressions: None,
        });
    let workload_ref = args.workload.as_deref().map(parse_workload).transpose()?;
    let protocol = args.protocol.as_deref().map(parse_protocol).transpose()?;
    let ports = args
        .ports
        .iter()
        .map(|&port| ConnectionPort {
            port: i32::from(port),
            protocol,
        })
        .collect();
    let mut connection = Connection::new(
        &args.component,
        ConnectionSpec {
            colony_ref: LocalObjectReference {
                name: colony.to_owned(),
            },
            component: args.component.clone(),
            selector,
            workload_ref,
            ports,
        },
    );
    connection.metadata.namespace = Some(namespace.to_owned());
    Ok(connection)
}

pub async fn run(
    cluster: &Cluster,
    args: ConnectArgs,
    format: OutputFormat,
) -> Result<String, CliError> {
    // Validate the flags before touching the cluster.
    desired(&args, "placeholder", &cluster.namespace)?;
    let colony = cluster.colony(args.colony.as_deref()).await?;
    let colony_name = colony.name_any();
    let connection = desired(&args, &colony_name, &cluster.namespace)?;
    let api: Api<Connection> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let applied = api
        .patch(
            &args.component,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&connection),
        )
        .await
        .map_err(|error| match &error {
            kube::Error::Api(status) if status.code == 409 => CliError::Kube(format!(
                "Connection {} in namespace {} is managed by someone else ({}); change it with kubectl, or delete it first",
                args.component, cluster.namespace, status.message
            )),
            _ => kube_error(&format!("creating Connection {}", args.component), error),
        })?;
    if let Some(text) = output::structured(format, &applied)? {
        return Ok(text);
    }
    let what = match (&args.selector, &args.workload) {
        (Some(selector), _) => selector.clone(),
        (_, Some(workload)) => workload.clone(),
        _ => String::new(),
    };
    let ports = if args.ports.is_empty() {
        "all ports".to_owned()
    } else {
        format!(
            "port {}",
            args.ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    Ok(format!(
        "{} Connected: {} ({what}, {ports}) → colony {colony_name} in namespace {}\n  Check it: kubectl get connection {} -n {}\n",
        Style::detect().green("✓"),
        args.component,
        cluster.namespace,
        args.component,
        cluster.namespace,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(selector: Option<&str>, workload: Option<&str>) -> ConnectArgs {
        ConnectArgs {
            component: "api".into(),
            selector: selector.map(str::to_owned),
            workload: workload.map(str::to_owned),
            ports: vec![8080],
            protocol: Some("http".into()),
            colony: None,
        }
    }

    #[test]
    fn builds_the_connection() {
        let connection = desired(&args(Some("app=api, tier=web"), None), "shop", "apps").unwrap();
        let value = serde_json::to_value(&connection).unwrap();
        assert_eq!(value["metadata"]["name"], "api");
        assert_eq!(value["metadata"]["namespace"], "apps");
        assert_eq!(value["spec"]["colonyRef"]["name"], "shop");
        assert_eq!(value["spec"]["selector"]["matchLabels"]["app"], "api");
        assert_eq!(value["spec"]["selector"]["matchLabels"]["tier"], "web");
        assert_eq!(value["spec"]["ports"][0]["port"], 8080);
        assert_eq!(value["spec"]["ports"][0]["protocol"], "http");
        let by_workload = desired(&args(None, Some("sts/db")), "shop", "apps").unwrap();
        assert_eq!(
            by_workload.spec.workload_ref.unwrap().kind,
            WorkloadKind::StatefulSet
        );
    }

    #[test]
    fn refuses_bad_flags() {
        assert!(parse_selector("app").is_err());
        assert!(parse_selector("app!=x").is_err());
        assert!(parse_selector("").is_err());
        assert!(parse_workload("Pod/x").is_err());
        assert!(parse_workload("Deployment/").is_err());
        assert!(parse_protocol("udp").is_err());
        let mut bad = args(Some("app=api"), None);
        bad.component = "API".into();
        assert!(desired(&bad, "shop", "apps").is_err());
    }
}
