//! Operator benchmark (run by `cargo xtask bench operator`): against the
//! local cluster, creates N Colonies and M Connections at once, measures the
//! time until all are Ready, restarts the operator and counts the writes of
//! its full resync, and reports the operator's peak RSS. Prints the figures.
//!
//! Each Connection selects its Colony's own pod, so it becomes Ready without
//! extra workload pods; kwok has no volume provisioner, so a PersistentVolume
//! is pre-bound to each Colony's claim.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use coral_crds::{Colony, Connection};
use futures::{FutureExt, StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolume, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, CustomResourceExt};
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 50)]
    colonies: usize,
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Seconds to wait for everything to be Ready before giving up.
    #[arg(long, default_value_t = 180)]
    timeout: u64,
}

fn kubeconfig_path() -> PathBuf {
    if let Some(path) = std::env::var_os("KUBECONFIG") {
        return PathBuf::from(path);
    }
    let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()));
    let cache = std::env::var_os("CORAL_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".cache/coral"));
    std::env::var_os("CORAL_CLUSTER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("cluster"))
        .join("kubeconfig")
}

struct Operator {
    child: Child,
    metrics_port: u16,
}

impl Operator {
    fn start(namespace: &str) -> Result<Self> {
        // The release binary sits next to the examples directory.
        let exe = std::env::current_exe()?;
        let binary = exe
            .parent()
            .and_then(|d| d.parent())
            .context("locating target dir")?
            .join("coral-operator");
        let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log_path =
            std::env::temp_dir().join(format!("coral-operator-bench-{metrics_port}.log"));
        let log = std::fs::File::create(&log_path)?;
        let child = Command::new(&binary)
            .env("KUBECONFIG", kubeconfig_path())
            // CORAL_BENCH_LOG (a RUST_LOG filter) for a closer look.
            .env(
                "RUST_LOG",
                std::env::var("CORAL_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .args([
                "--namespace",
                namespace,
                "--http-addr",
                &format!("127.0.0.1:{metrics_port}"),
                "--log-json",
                "false",
            ])
            .stdin(Stdio::null())
            // Keep the figures readable: operator logs go to a file.
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self {
            child,
            metrics_port,
        })
    }

    /// `(labels, value)` of every sample whose line starts with `prefix`.
    async fn metric_samples(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics_port)).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await?;
        Ok(text
            .lines()
            .filter(|line| line.starts_with(prefix))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                Some((
                    series[prefix.len()..].to_owned(),
                    value.parse::<u64>().ok()?,
                ))
            })
            .collect())
    }

    async fn metric_sum(&self, prefix: &str) -> Result<u64> {
        Ok(self
            .metric_samples(prefix)
            .await?
            .iter()
            .map(|(_, v)| v)
            .sum())
    }

    /// Peak resident set size in KiB (VmHWM).
    fn peak_rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmHWM missing")
    }

    fn stop(mut self) -> Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                bail!("coral-operator did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let path = kubeconfig_path();
    let kubeconfig = Kubeconfig::read_from(&path).with_context(|| {
        format!(
            "no kubeconfig at {}; start the local cluster with `cargo xtask cluster up`",
            path.display()
        )
    })?;
    let client = Client::try_from(
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?,
    )?;
    client
        .apiserver_version()
        .await
        .context("the API server does not answer; run `cargo xtask cluster up`")?;

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in [Colony::crd(), Connection::crd()] {
        let name = crd.metadata.name.clone().unwrap_or_default();
        crds.patch(
            &name,
            &PatchParams::apply("coral-bench").force(),
            &Patch::Apply(&crd),
        )
        .await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let id = std::process::id();
    let namespace = format!("bench-{id}");
    let agent_namespace = format!("bench-system-{id}");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for name in [&namespace, &agent_namespace] {
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
        namespaces.create(&PostParams::default(), &ns).await?;
    }
    let result = bench(&client, &args, &namespace, &agent_namespace).await;
    for name in [&namespace, &agent_namespace] {
        let _ = namespaces.delete(name, &DeleteParams::default()).await;
    }
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let _ = pvs
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels(&format!("coral.io/bench={id}")),
        )
        .await;
    result
}

async fn bench(client: &Client, args: &Args, namespace: &str, agent_namespace: &str) -> Result<()> {
    let id = std::process::id();
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    for i in 0..args.colonies {
        let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": format!("bench-{id}-{i}"), "labels": {"coral.io/bench": id.to_string()}},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": format!("/tmp/coral-bench/{id}/{i}")},
                     "claimRef": {"namespace": namespace, "name": format!("data-c{i}-colony-0")}}
        }))?;
        pvs.create(&PostParams::default(), &pv).await?;
    }
    let operator = Operator::start(agent_namespace)?;
    let colonies: Api<Colony> = Api::namespaced(client.clone(), namespace);
    let connections: Api<Connection> = Api::namespaced(client.clone(), namespace);

    let started = Instant::now();
    let colony_creates = (0..args.colonies).map(|i| {
        let colonies = colonies.clone();
        async move {
            let colony: Colony = serde_json::from_value(json!({
                "apiVersion": "coral.io/v1alpha1", "kind": "Colony", "metadata": {"name": format!("c{i}")},
                // A mesh network each: overlapping ones would be left out of
                // the node-agents' colonies file with a Warning Event.
                "spec": {"application": format!("app{i}"), "environment": "bench",
                         "mesh": {"ipv4CIDR": format!("10.{}.{}.0/24", 64 + i / 256, i % 256)}}
            }))?;
            colonies.create(&PostParams::default(), &colony).await.map(|_| ()).map_err(anyhow::Error::from)
        }
        .boxed()
    });
    let connection_creates = (0..args.connections).map(|j| {
        let connections = connections.clone();
        let colony = j % args.colonies.max(1);
        async move {
            let connection: Connection = serde_json::from_value(json!({
                "apiVersion": "coral.io/v1alpha1", "kind": "Connection", "metadata": {"name": format!("conn{j}")},
                "spec": {"colonyRef": {"name": format!("c{colony}")}, "component": format!("comp{j}"),
                         "selector": {"matchLabels": {"app.kubernetes.io/instance": format!("c{colony}"), "app.kubernetes.io/name": "coral-colony"}}}
            }))?;
            connections.create(&PostParams::default(), &connection).await.map(|_| ()).map_err(anyhow::Error::from)
        }
        .boxed()
    });
    stream::iter(colony_creates.chain(connection_creates))
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await?;
    let created = started.elapsed();
    eprintln!(
        "created {} Colonies and {} Connections in {:.1} s; waiting for Ready",
        args.colonies,
        args.connections,
        created.as_secs_f64()
    );

    let deadline = started + Duration::from_secs(args.timeout);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut last_progress = 0;
    let (ready_colonies, ready_connections) = loop {
        let ready_colonies = colonies
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|c| is_ready(c.status.as_ref().map(|s| &s.conditions[..])))
            .count();
        let ready_connections = connections
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|c| is_ready(c.status.as_ref().map(|s| &s.conditions[..])))
            .count();
        if (ready_colonies, ready_connections) == (args.colonies, args.connections)
            || Instant::now() > deadline
        {
            break (ready_colonies, ready_connections);
        }
        // A timeline, to see which stage the time goes to.
        if started.elapsed().as_secs() > last_progress {
            last_progress = started.elapsed().as_secs();
            let pods = pods
                .list(&ListParams::default().labels("app.kubernetes.io/name=coral-colony"))
                .await?
                .items;
            let ready_pods = pods
                .iter()
                .filter(|pod| {
                    pod.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
                })
                .count();
            eprintln!(
                "  {:>3} s: colony pods {}/{} created, {ready_pods} Ready; Colonies Ready {ready_colonies}; Connections Ready {ready_connections}",
                last_progress,
                pods.len(),
                args.colonies
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let to_ready = started.elapsed();
    eprintln!(
        "{ready_colonies} Colonies and {ready_connections} Connections Ready after {:.1} s; restarting the operator for a full resync",
        to_ready.as_secs_f64()
    );
    let first_writes = operator.metric_sum("coral_operator_writes_total{").await?;
    for (series, writes) in operator
        .metric_samples("coral_operator_writes_total")
        .await?
    {
        eprintln!("  writes {series}: {writes}");
    }
    let first_rss = operator.peak_rss_kib()?;
    operator.stop()?;

    // Full resync: a fresh operator reconciles everything once; nothing changed, so nothing is written.
    let operator = Operator::start(agent_namespace)?;
    let wanted = (args.colonies + args.connections) as u64;
    let resync_started = Instant::now();
    loop {
        let reconciled = operator
            .metric_sum("coral_operator_reconciles_total{controller=\"colony\"}")
            .await
            .unwrap_or(0)
            + operator
                .metric_sum("coral_operator_reconciles_total{controller=\"connection\"}")
                .await
                .unwrap_or(0);
        if reconciled >= wanted || resync_started.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let resync_time = resync_started.elapsed();
    let resync_writes = operator.metric_sum("coral_operator_writes_total{").await?;
    for (series, writes) in operator
        .metric_samples("coral_operator_writes_total")
        .await?
    {
        eprintln!("  resync writes {series}: {writes}");
    }
    let resync_rss = operator.peak_rss_kib()?;
    operator.stop()?;

    println!(
        "operator benchmark ({} Colonies, {} Connections, created in {:.1} s)",
        args.colonies,
        args.connections,
        created.as_secs_f64()
    );
    println!(
        "  ready:           {ready_colonies}/{} Colonies, {ready_connections}/{} Connections after {:.1} s (target <= 30 s)",
        args.colonies,
        args.connections,
        to_ready.as_secs_f64()
    );
    println!("  writes to reach ready: {first_writes}");
    println!(
        "  full resync:     {resync_writes} writes in {:.1} s (target 0)",
        resync_time.as_secs_f64()
    );
    println!(
        "  peak RSS:        {:.1} MiB during creation, {:.1} MiB during resync (target <= 64 MiB)",
        first_rss as f64 / 1024.0,
        resync_rss as f64 / 1024.0
    );
    if (ready_colonies, ready_connections) != (args.colonies, args.connections) {
        bail!("not everything became Ready within {} s", args.timeout);
    }
    Ok(())
}

fn is_ready(
    conditions: Option<&[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]>,
) -> bool {
    conditions
        .unwrap_or_default()
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}
