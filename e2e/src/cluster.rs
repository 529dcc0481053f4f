//! Connecting to the local cluster. Tests fail, never skip, when it is not
//! reachable: the message says how to start it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// `$KUBECONFIG`, else the kubeconfig `cargo xtask cluster up` writes.
pub fn kubeconfig_path() -> PathBuf {
    if let Some(path) = std::env::var_os("KUBECONFIG") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("CORAL_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
            PathBuf::from(home).join(".cache").join("coral")
        });
    std::env::var_os("CORAL_CLUSTER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("cluster"))
        .join("kubeconfig")
}

/// A client for the local cluster, checked to answer.
pub async fn client() -> Result<Client> {
    let path = kubeconfig_path();
    let hint =
        "start the local cluster with `cargo xtask cluster up` (cargo xtask test does it for you)";
    let kubeconfig = Kubeconfig::read_from(&path)
        .with_context(|| format!("no kubeconfig at {}; {hint}", path.display()))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("bad kubeconfig {}", path.display()))?;
    let client = Client::try_from(config)?;
    client.apiserver_version().await.with_context(|| {
        format!(
            "the API server in {} does not answer; {hint}",
            path.display()
        )
    })?;
    Ok(client)
}

/// Creates a fresh namespace named `<prefix>-<pid>-<n>` for one test.
pub async fn unique_namespace(client: &Client, prefix: &str) -> Result<String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let namespace: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": { "name": name, "labels": { "coral.io/test": "e2e" } }
    }))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(name)
}
