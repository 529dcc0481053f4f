//! `coral-operator`: flags, logging, signals; the work is in the library.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use coral_operator::OperatorConfig;
use coral_operator::node_agent::NodeAgentSettings;
use tokio::sync::oneshot;

#[derive(Parser)]
#[command(
    name = "coral-operator",
    about = "Reconciles Coral Colonies and Connections"
)]
struct Args {
    /// Namespace the operator runs in; the node-agent DaemonSet is kept here.
    #[arg(long, env = "POD_NAMESPACE", default_value = "coral-system")]
    namespace: String,
    /// Default colony image.
    #[arg(long, env = "CORAL_COLONY_IMAGE")]
    colony_image: Option<String>,
    /// Node-agent image.
    #[arg(long, env = "CORAL_NODE_AGENT_IMAGE")]
    node_agent_image: Option<String>,
    /// Default reef image.
    #[arg(long, env = "CORAL_REEF_IMAGE")]
    reef_image: Option<String>,
    /// Pod settings of the node-agent DaemonSet as JSON (resources,
    /// nodeSelector, tolerations, priorityClassName, podLabels,
    /// podAnnotations, imagePullSecrets, imagePullPolicy, logLevel,
    /// logFormat, drainIntervalSeconds, metricsPort); the chart renders it
    /// from `nodeAgent.*`.
    #[arg(long, env = "CORAL_NODE_AGENT_SETTINGS", default_value = "")]
    node_agent_settings: String,
    /// The operator's own Deployment, made owner of the node-agent DaemonSet
    /// so that uninstalling the operator removes the DaemonSet too.
    #[arg(long, env = "CORAL_OPERATOR_DEPLOYMENT")]
    owner_deployment: Option<String>,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "CORAL_OPERATOR_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: SocketAddr,
    /// Run controllers only while holding the `coral-operator` Lease (set false for a single local replica).
    #[arg(long, env = "CORAL_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Log as JSON (default when stdout is not a terminal).
    #[arg(long, env = "CORAL_LOG_JSON")]
    log_json: Option<bool>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.log_json);
    let defaults = OperatorConfig::default();
    let config = OperatorConfig {
        namespace: args.namespace,
        colony_image: args.colony_image.unwrap_or(defaults.colony_image),
        node_agent_image: args.node_agent_image.unwrap_or(defaults.node_agent_image),
        reef_image: args.reef_image.unwrap_or(defaults.reef_image),
        node_agent: NodeAgentSettings::parse(&args.node_agent_settings)?,
        owner_deployment: args.owner_deployment.filter(|name| !name.is_empty()),
    };
    let client = kube::Client::try_default().await.context(
        "connecting to Kubernetes (set KUBECONFIG, or run in a pod with a service account)",
    )?;
    let shutdown = coral_telemetry::shutdown_signal().context("cannot handle SIGINT/SIGTERM")?;
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutdown requested; finishing in-flight reconciles");
        let _ = stop.send(());
        // In-flight API calls to an overloaded apiserver can hang for minutes; don't outlive the grace period.
        tokio::time::sleep(std::time::Duration::from_secs(25)).await;
        tracing::error!("in-flight reconciles did not finish within 25 s; exiting anyway");
        std::process::exit(1);
    });
    coral_operator::run(
        client,
        config,
        args.http_addr,
        args.leader_election,
        coral_operator::run::shutdown_from(stopped),
    )
    .await
}

fn init_logging(json: Option<bool>) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json.unwrap_or(!std::io::stdout().is_terminal()) {
        builder.json().init();
    } else {
        builder.init();
    }
}
