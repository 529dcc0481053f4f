//! The whole path, as `cargo xtask demo` runs it: the operator makes the
//! Colony's children from `examples/demo`, the real colony runs with them,
//! the app's pods are network namespaces with their pod IPs making real TCP
//! connections (frontend → api → database, through the Services'
//! ClusterIPs), and the real node-agent sees them with eBPF and reports
//! them through the WireGuard mesh. The colony must count exactly the
//! connections the app made, and `kubectl coral status` (through the API
//! server) must show the components and the agent.
//!
//! Needs the local cluster (`cargo xtask cluster up`) and root; fails, never
//! skips, without them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use coral_demo::{Binaries, Demo, DemoOptions, Load};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::pinned_kind;
use serde_json::Value;
use tokio::sync::oneshot;

const CALLS_PER_FRONTEND: u64 = 10;
const FRONTEND_REPLICAS: u64 = 2;
/// The Colony in `examples/demo`.
const COLONY: &str = "shop-demo";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_app_is_seen_end_to_end() -> Result<()> {
    let client = coral_e2e::client().await?;
    coral_e2e::install_crds(&client).await?;
    let namespace = coral_e2e::unique_namespace(&client, "fullpath").await?;

    let (stop_operator, stopped) = oneshot::channel();
    let operator = tokio::spawn(coral_operator::run(
        client.clone(),
        coral_operator::OperatorConfig {
            namespace: namespace.clone(),
            ..Default::default()
        },
        "127.0.0.1:0".parse()?,
        false,
        coral_operator::run::shutdown_from(stopped),
    ));
    let result = run_demo(&client, &namespace).await;

    let _ = stop_operator.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), operator).await;
    let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .delete(&namespace, &DeleteParams::default())
        .await;
    result
}

async fn run_demo(client: &Client, namespace: &str) -> Result<()> {
    apply_examples(client, namespace).await?;
    let dir = tempfile::tempdir()?;
    let options = DemoOptions {
        namespace: namespace.to_owned(),
        colony: COLONY.into(),
        node: "coral-node-1".into(),
        kubeconfig: coral_e2e::kubeconfig_path(),
        binaries: Binaries::in_dir(&bin_dir()),
        dir: dir.path().to_owned(),
        // The test runs the operator in the app's namespace.
        operator_namespace: namespace.to_owned(),
        load: Load {
            interval: Duration::from_millis(100),
            calls_per_client: CALLS_PER_FRONTEND,
        },
    };
    let mut demo = Demo::start(client, &options).await?;
    let made = CALLS_PER_FRONTEND * FRONTEND_REPLICAS;

    // Every call the frontends make is one connection to the api, and each
    // makes one to the database; all must arrive, and no more.
    let seen = coral_e2e::poll_until(
        "the colony to count every connection the app made",
        Duration::from_secs(120),
        || async {
            let front = demo.connections(namespace, "frontend", "api").await?;
            let back = demo.connections(namespace, "api", "database").await?;
            anyhow::Ok(if front >= made && back >= made {
                Ok((front, back))
            } else {
                Err((front, back))
            })
        },
    )
    .await
    .with_context(|| demo.logs())?;
    // Another drain interval: nothing is counted twice.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let front = demo.connections(namespace, "frontend", "api").await?;
    let back = demo.connections(namespace, "api", "database").await?;
    let summaries = demo.stop_apps()?;
    let calls: u64 = summaries.iter().map(|(_, s)| s.calls_ok).sum();
    let upstream: u64 = summaries.iter().map(|(_, s)| s.upstream_ok).sum();
    assert_eq!(calls, made, "the frontends' own count: {summaries:?}");
    assert_eq!(
        upstream, made,
        "the api's calls to the database: {summaries:?}"
    );
    assert_eq!(
        (front, back),
        (made, made),
        "first seen {seen:?}\n{}",
        demo.logs()
    );

    let status = kubectl_coral_status(namespace)?;
    assert_eq!(status["colony"]["status"], "healthy", "{status:#}");
    let agents = status["agents"].as_array().context("agents")?;
    assert_eq!(agents.len(), 1, "{status:#}");
    assert_eq!(agents[0]["status"], "connected", "{status:#}");
    // The colony's own inventory, from the Kubernetes API through its
    // Connections: every component with the version of its image.
    let inventory = coral_e2e::poll_until(
        "the colony's component inventory",
        Duration::from_secs(30),
        || async {
            let status = kubectl_coral_status(namespace)?;
            let mut listed: Vec<(String, String, String, u64)> = status["components"]
                .as_array()
                .context("components")?
                .iter()
                .map(|c| {
                    let text = |key: &str| c[key].as_str().unwrap_or_default().to_owned();
                    (
                        text("name"),
                        text("kind"),
                        text("version"),
                        c["pods"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            listed.sort();
            Ok(if listed.len() == 3 {
                Ok(listed)
            } else {
                Err(status)
            })
        },
    )
    .await?;
    let expect = |name: &str, kind: &str, version: &str, pods: u64| {
        (name.to_owned(), kind.to_owned(), version.to_owned(), pods)
    };
    assert_eq!(
        inventory,
        [
            expect("api", "Deployment", "2.1.0", 2),
            expect("database", "StatefulSet", "16.4", 1),
            expect("frontend", "Deployment", "1.4.0", FRONTEND_REPLICAS),
        ]
    );
    Ok(())
}

/// `kubectl coral status -o json`, through the API server's service proxy.
fn kubectl_coral_status(namespace: &str) -> Result<Value> {
    let output = std::process::Command::new(bin_dir().join("kubectl-coral"))
        .env("KUBECONFIG", coral_e2e::kubeconfig_path())
        .args(["-n", namespace, "status", "-o", "json"])
        .output()
        .context("running kubectl-coral")?;
    if !output.status.success() {
        bail!(
            "kubectl coral status failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// `target/<profile>`, where `cargo test --workspace` puts every binary.
fn bin_dir() -> PathBuf {
    coral_e2e::workspace_binary("coral-colony")
        .parent()
        .expect("target dir")
        .to_owned()
}

/// `examples/demo` into `namespace`, server-side applied as `kubectl apply
/// --server-side -f examples/demo` would, with a mesh range of this test's
/// own (the demo's default may be in use on this machine).
async fn apply_examples(client: &Client, namespace: &str) -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo");
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    let mesh = format!("10.{}.0.0/16", std::process::id() % 40 + 160);
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let mut object: Value = serde::Deserialize::deserialize(document)?;
            if object.is_null() {
                continue;
            }
            object["metadata"]["namespace"] = namespace.into();
            if object["kind"] == "Colony" {
                object["spec"]["mesh"]["ipv4CIDR"] = mesh.clone().into();
            }
            apply(client, namespace, object)
                .await
                .with_context(|| format!("applying {}", file.display()))?;
        }
    }
    Ok(())
}

async fn apply(client: &Client, namespace: &str, object: Value) -> Result<()> {
    let (group, version) = match object["apiVersion"].as_str().context("apiVersion")? {
        api_version if api_version.contains('/') => {
            let (group, version) = api_version.split_once('/').unwrap_or_default();
            (group.to_owned(), version.to_owned())
        }
        version => (String::new(), version.to_owned()),
    };
    let kind = object["kind"].as_str().context("kind")?.to_owned();
    let (resource, _) =
        pinned_kind(client, &GroupVersionKind::gvk(&group, &version, &kind)).await?;
    let object: DynamicObject = serde_json::from_value(object)?;
    let name = object.metadata.name.clone().context("metadata.name")?;
    Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource)
        .patch(
            &name,
            &PatchParams::apply("coral-e2e").force(),
            &Patch::Apply(&object),
        )
        .await?;
    Ok(())
}
