//! Command lines of `coral` and `kubectl-coral` (clap derive).

use clap::{Args, Parser, Subcommand};
use coral_telemetry::LogLevel;

use crate::output::OutputFormat;
use crate::render::units::parse_window;

#[derive(Debug, Parser)]
#[command(
    name = "coral",
    version = crate::VERSION,
    about = "Coral: see what your distributed application is doing",
    long_about = "Coral: see what your distributed application is doing.\n\n\
        Get started:\n  coral init                 create a colony for your application\n  \
        coral colony start         run it (add --daemon to run it in the background)\n  \
        sudo coral connect api --port 8080\n                             observe the process serving a port\n  \
        coral status               components and agents\n  \
        coral topology             who talks to whom, with rates",
    propagate_version = true
)]
pub struct CoralArgs {
    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    #[command(subcommand)]
    pub command: CoralCommand,
}

#[derive(Debug, Subcommand)]
pub enum CoralCommand {
    /// Create a colony for an application and environment (keys, config).
    Init(InitArgs),
    /// Manage local colonies: start, stop, list, current, use, status.
    #[command(subcommand)]
    Colony(ColonyCommand),
    /// Application status: the colony, its components and agents.
    Status(StatusArgs),
    /// Service topology: who talks to whom, with rates.
    Topology(TopologyArgs),
    /// Connect a local component (the process serving a port) to the colony;
    /// runs until Ctrl+C. Needs root (eBPF).
    Connect(LocalConnectArgs),
    /// Reach a colony over its WireGuard mesh: start, status, stop.
    #[command(subcommand)]
    Proxy(ProxyCommand),
    /// Show the version.
    Version,
}

#[derive(Debug, Args)]
pub struct LocalConnectArgs {
    /// Component name, e.g. api.
    pub component: String,
    /// The port the component listens on, on this host.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Colony id (default: the current colony).
    #[arg(long)]
    pub colony: Option<String>,
    /// Namespace the component is listed under.
    #[arg(long, default_value = "host")]
    pub namespace: String,
}

#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
    /// Forward a local port to the colony over its mesh (foreground; Ctrl+C stops).
    Start(ProxyStartArgs),
    /// The running proxies.
    Status,
    /// Stop a colony's proxy.
    Stop {
        /// Colony id.
        colony_id: String,
    },
}

#[derive(Debug, Args)]
pub struct ProxyStartArgs {
    /// Colony id (its colony file holds the token the proxy enrolls with).
    pub colony_id: String,
    /// Local address to listen on.
    #[arg(long, default_value = "localhost:8000")]
    pub listen: String,
    /// Discovery service (default: the colony file's, else http://localhost:8080).
    #[arg(long)]
    pub discovery: Option<String>,
    /// The colony's connect endpoint to enroll through (default: its local port).
    #[arg(long)]
    pub colony_endpoint: Option<String>,
    /// TUN device of the proxy's end of the mesh.
    #[arg(long, default_value = "coralp0", env = "CORAL_PROXY_INTERFACE")]
    pub mesh_interface: String,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Application name (prompted for on a terminal when missing).
    #[arg(long, visible_alias = "application")]
    pub app: Option<String>,
    /// Environment, e.g. dev or prod (prompted for on a terminal when missing).
    #[arg(long, visible_alias = "environment")]
    pub env: Option<String>,
    /// Colony id (default: <app>-<env>-<6 random hex digits>).
    #[arg(long)]
    pub colony_id: Option<String>,
    /// Port serving the colony API (gRPC and Connect-JSON).
    #[arg(long, default_value_t = crate::colony_file::DEFAULT_CONNECT_PORT)]
    pub connect_port: u16,
    /// Discovery service the colony registers with.
    #[arg(long, default_value = crate::colony_file::DEFAULT_DISCOVERY)]
    pub discovery: String,
}

#[derive(Debug, Subcommand)]
pub enum ColonyCommand {
    /// Run a colony (in the foreground unless --daemon).
    Start(StartArgs),
    /// Stop a colony started with `coral colony start`.
    Stop(ColonyIdArg),
    /// List the colonies on this machine.
    List,
    /// Show the current colony.
    Current,
    /// Make a colony the current one.
    Use(RequiredColonyId),
    /// Show a colony's configuration and whether it runs.
    Status(ColonyIdArg),
}

#[derive(Debug, Args)]
pub struct ColonyIdArg {
    /// Colony id (default: the current colony).
    pub colony_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct RequiredColonyId {
    /// Colony id (see `coral colony list`).
    pub colony_id: String,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Colony id (default: the current colony).
    pub colony_id: Option<String>,
    /// Run in the background; logs go to ~/.coral/colonies/<id>.log.
    #[arg(long)]
    pub daemon: bool,
    /// Override the configured connect port for this run.
    #[arg(long)]
    pub connect_port: Option<u16>,
    #[arg(long, value_enum, default_value_t = LogLevel::Info, env = "CORAL_LOG_LEVEL")]
    pub log_level: LogLevel,
    /// Run without the WireGuard mesh (it needs root or CAP_NET_ADMIN):
    /// agents then report unencrypted on the connect port.
    #[arg(long, env = "CORAL_NO_MESH", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_mesh: bool,
    /// Internal: this process is the daemon started by --daemon.
    #[arg(long, hide = true)]
    pub daemon_child: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Colony id (default: the current colony).
    #[arg(long, env = "CORAL_COLONY")]
    pub colony: Option<String>,
    /// Colony API URL, e.g. http://localhost:8000 (a `coral proxy`); default: the colony's local port.
    #[arg(long)]
    pub endpoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct TopologyArgs {
    /// Colony id (default: the current colony).
    #[arg(long, env = "CORAL_COLONY")]
    pub colony: Option<String>,
    /// Colony API URL (default: the colony's local port).
    #[arg(long)]
    pub endpoint: Option<String>,
    #[command(flatten)]
    pub view: TopologyView,
}

#[derive(Debug, Args)]
pub struct TopologyView {
    /// Time window ending now: 300, 90s, 5m, 1h, 2d.
    #[arg(long, default_value = "5m", value_parser = parse_window)]
    pub window: i64,
    /// Only this Kubernetes namespace.
    // Its own id: `kubectl coral`'s global `-n/--namespace` (where the
    // Colony lives) would otherwise fill it and filter the graph.
    #[arg(long = "only-namespace", id = "only_namespace")]
    pub namespace: Option<String>,
    /// Leave out external endpoints.
    #[arg(long)]
    pub no_external: bool,
    /// Export the graph: dot, mermaid or json to stdout, or a file name
    /// ending in .dot, .mmd/.mermaid or .json to write.
    #[arg(long, value_name = "FORMAT|FILE")]
    pub export: Option<String>,
}

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-coral",
    bin_name = "kubectl coral",
    version = crate::VERSION,
    about = "Coral for Kubernetes: colonies, connections, status and topology of the current kubeconfig context",
    propagate_version = true
)]
pub struct KubectlArgs {
    /// Output format.
    #[arg(short, long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Namespace (default: the context's namespace).
    #[arg(short, long, global = true)]
    pub namespace: Option<String>,
    /// Kubeconfig context (default: the current context).
    #[arg(long, global = true)]
    pub context: Option<String>,

    #[command(subcommand)]
    pub command: KubectlCommand,
}

#[derive(Debug, Subcommand)]
pub enum KubectlCommand {
    /// Colonies in the cluster.
    #[command(subcommand)]
    Colony(KubeColonyCommand),
    /// Connect a component (a set of pods) to a colony: creates a Connection.
    Connect(ConnectArgs),
    /// Application status from the colony, through the API server.
    Status(KubeColonyArg),
    /// Service topology from the colony, through the API server.
    Topology(KubeTopologyArgs),
    /// Show the version.
    Version,
}

#[derive(Debug, Subcommand)]
pub enum KubeColonyCommand {
    /// List Colonies.
    List(KubeListArgs),
    /// Show a Colony's status and conditions.
    Status(KubeColonyName),
}

#[derive(Debug, Args)]
pub struct KubeListArgs {
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
}

#[derive(Debug, Args)]
pub struct KubeColonyName {
    /// Colony name (default: the only Colony in the namespace).
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct KubeColonyArg {
    /// Colony name (default: the only Colony in the namespace).
    #[arg(long)]
    pub colony: Option<String>,
}

#[derive(Debug, Args)]
pub struct KubeTopologyArgs {
    /// Colony name (default: the only Colony in the namespace).
    #[arg(long)]
    pub colony: Option<String>,
    #[command(flatten)]
    pub view: TopologyView,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Component name shown in topology (e.g. api).
    pub component: String,
    /// Label selector of the component's pods, e.g. app=api (k=v[,k=v…]).
    #[arg(
        short = 'l',
        long,
        conflicts_with = "workload",
        required_unless_present = "workload"
    )]
    pub selector: Option<String>,
    /// A workload whose pods make up the component: Deployment/api, StatefulSet/db …
    #[arg(long)]
    pub workload: Option<String>,
    /// Port the component serves (repeat for several).
    #[arg(long = "port", short = 'p', value_parser = clap::value_parser!(u16).range(1..))]
    pub ports: Vec<u16>,
    /// Protocol hint for the ports: tcp, http, grpc, postgres, mysql, redis.
    #[arg(long)]
    pub protocol: Option<String>,
    /// Colony observing the component (default: the only Colony in the namespace).
    #[arg(long)]
    pub colony: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_lines_are_consistent() {
        CoralArgs::command().debug_assert();
        KubectlArgs::command().debug_assert();
    }
}
