//! Shared pieces of the operator e2e tests: a client for the local cluster
//! (failing, never skipping, when it is down), CRD installation, namespaces,
//! the operator binary as a child process, and polling.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams};

/// One operator at a time: tests that run one hold this lock.
pub fn operator_lock() -> &'static tokio::sync::Mutex<()> {
    static LOCK: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
}

/// A client for the local cluster, shared with the other e2e suites.
pub use coral_e2e::{client, kubeconfig_path};

/// Applies the CRDs from the Rust types and waits until they are served.
pub use coral_e2e::install_crds;

/// A fresh namespace; deleted by the caller at the end.
pub async fn namespace(client: &Client, prefix: &str) -> Result<String> {
    coral_e2e::unique_namespace(client, prefix).await
}

pub async fn delete_namespace(client: &Client, name: &str) {
    let _ = Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::default())
        .await;
}

/// Runs `scenario` as the only operator test at a time, with the CRDs
/// installed, in two fresh namespaces (the objects' and the operator's)
/// that are deleted afterwards whatever the outcome. `prefix` names them.
#[allow(dead_code)] // Not every test binary that shares this module uses it.
pub async fn in_fresh_namespaces(
    prefix: &str,
    scenario: impl AsyncFnOnce(&Client, &str, &str) -> Result<()>,
) -> Result<()> {
    let client = client().await?;
    install_crds(&client).await?;
    let _one_operator = operator_lock().lock().await;
    let objects = namespace(&client, &format!("{prefix}-e2e")).await?;
    let operator = namespace(&client, &format!("{prefix}-system")).await?;
    let result = scenario(&client, &objects, &operator).await;
    // A fresh client: a scenario may have restarted the API server.
    if let Ok(client) = self::client().await {
        delete_namespace(&client, &objects).await;
        delete_namespace(&client, &operator).await;
    }
    result
}

/// Polls `check` until it yields `Some`, or fails naming `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last_error = Some(error),
        }
        if Instant::now() > deadline {
            match last_error {
                Some(error) => {
                    bail!("timed out after {timeout:?} waiting for {what}; last error: {error:#}")
                }
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The operator binary running against the local cluster.
pub struct Operator {
    child: Child,
    pub metrics_url: String,
}

impl Operator {
    pub fn start(agent_namespace: &str) -> Result<Self> {
        let port = free_port()?;
        let child = Command::new(env!("CARGO_BIN_EXE_coral-operator"))
            .env("KUBECONFIG", kubeconfig_path())
            .env(
                "RUST_LOG",
                std::env::var("OPERATOR_LOG").unwrap_or_else(|_| "info,kube=warn".into()),
            )
            .args([
                "--namespace",
                agent_namespace,
                "--http-addr",
                &format!("127.0.0.1:{port}"),
                "--log-json",
                "false",
            ])
            .stdin(Stdio::null())
            .spawn()
            .context("starting coral-operator")?;
        Ok(Self {
            child,
            metrics_url: format!("http://127.0.0.1:{port}/metrics"),
        })
    }

    /// Total writes the operator made (from /metrics), once it answers.
    pub async fn writes(&self) -> Result<u64> {
        let text = http_get(&self.metrics_url).await?;
        Ok(text
            .lines()
            .filter(|line| line.starts_with("coral_operator_writes_total{"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum())
    }

    pub async fn reconciles(&self, controller: &str) -> Result<u64> {
        let text = http_get(&self.metrics_url).await?;
        let prefix = format!("coral_operator_reconciles_total{{controller=\"{controller}\"}} ");
        Ok(text
            .lines()
            .find_map(|line| line.strip_prefix(&prefix)?.parse().ok())
            .unwrap_or(0))
    }

    /// Whether the process is still running (it has not exited or crashed).
    #[allow(dead_code)] // Not every test binary that shares this module asks.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("coral-operator exited with {status} after SIGTERM");
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("coral-operator did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Minimal HTTP GET over a TCP socket (keeps the test free of an HTTP client).
async fn http_get(url: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").context("only http URLs")?;
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("GET {url}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(body.to_string())
}
