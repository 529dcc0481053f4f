//! `coral connect <component> --port N`: name the process serving a local
//! port as a component of the current colony, and keep this host's agent
//! observing it until Ctrl+C. Connections between connected
//! components are told apart by process, so everything may run on
//! localhost (see `host_agent.rs` for the shared agent).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use coral_proto::colony::v1::{GetTopologyRequest, GetTopologyResponse};

use crate::args::LocalConnectArgs;
use crate::client::ColonyClient;
use crate::colony_file::{self, ColonyFile};
use crate::error::CliError;
use crate::home::CoralHome;
use crate::local::host_agent::{self, Connections};
use crate::output::Style;

/// How long a new agent may take to enroll (it loads eBPF, joins the mesh).
const AGENT_START_TIMEOUT: Duration = Duration::from_secs(45);
/// How often new connections of the component are looked for.
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(5);

/// Removes the component (and stops the agent once unused) however the
/// command ends.
struct Registration<'a> {
    connections: &'a Connections,
    component: String,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.connections.remove(&self.component);
        self.connections.stop_agent_if_unused();
    }
}

pub async fn run(home: &CoralHome, args: &LocalConnectArgs) -> Result<(), CliError> {
    for (what, value) in [
        ("component", &args.component),
        ("namespace", &args.namespace),
    ] {
        check_name(what, value)?;
    }
    let file = colony_file::resolve(home, args.colony.as_deref())?;
    require_root(args)?;
    let client = ColonyClient::direct(&file.local_url(), &file.colony_id)?;
    client.get_status().await?;

    let connections = Connections::of(home, &file.colony_id);
    if let Some(pid) = connections.holder(&args.component)
        && pid != std::process::id()
    {
        return Err(CliError::Invalid(format!(
            "{} is already connected by another `coral connect` (pid {pid}); stop that one \
             (Ctrl+C) first",
            args.component
        )));
    }
    connections.add(&args.namespace, &args.component, args.port)?;
    let _registration = Registration {
        connections: &connections,
        component: args.component.clone(),
    };
    ensure_agent(&connections, &file, &client).await?;

    let style = Style::detect();
    println!(
        "{} Connected: {} (localhost:{})",
        style.green("✓"),
        args.component,
        args.port
    );
    match coral_host_sockets::on_port(args.port).first() {
        Some(listener) => println!(
            "{} Agent observing: {} (pid {})",
            style.green("✓"),
            listener.command,
            listener.pid
        ),
        None => println!(
            "! Nothing listens on port {} yet: {} shows up once something does",
            args.port, args.component
        ),
    }
    println!("Agent running. Press Ctrl+C to disconnect.");

    let node = format!("{}/{}", args.namespace, args.component);
    watch_connections(&client, &node, &style).await?;
    println!("Disconnected: {}", args.component);
    Ok(())
}

/// Prints each new edge of `node` until Ctrl+C or SIGTERM.
async fn watch_connections(
    client: &ColonyClient,
    node: &str,
    style: &Style,
) -> Result<(), CliError> {
    let shutdown = coral_telemetry::shutdown_signal()
        .map_err(|e| CliError::Io(format!("cannot handle Ctrl+C: {e}")))?;
    tokio::pin!(shutdown);
    let mut seen = BTreeSet::new();
    let mut tick = tokio::time::interval(DISCOVERY_INTERVAL);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tick.tick() => {
                // The colony may restart meanwhile: keep waiting quietly.
                let request = GetTopologyRequest {
                    window_seconds: 300,
                    namespace: String::new(),
                    include_external: false,
                };
                if let Ok(topology) = client.get_topology(&request).await {
                    for edge in edges_of(&topology, node) {
                        if seen.insert(edge.clone()) {
                            println!("{} Discovered connection: {} → {}", style.green("✓"), edge.0, edge.1);
                        }
                    }
                }
            }
        }
    }
}

/// (source, destination) names of the edges with `node` at either end.
fn edges_of(topology: &GetTopologyResponse, node: &str) -> Vec<(String, String)> {
    let name = |id: &str| {
        topology
            .nodes
            .iter()
            .find(|n| n.id == id)
            .map_or_else(|| id.to_owned(), |n| n.name.clone())
    };
    topology
        .edges
        .iter()
        .filter(|e| e.source == node || e.destination == node)
        .map(|e| (name(&e.source), name(&e.destination)))
        .collect()
}

/// Starts this host's agent for the colony unless it runs, and waits until
/// the colony lists it.
async fn ensure_agent(
    connections: &Connections,
    file: &ColonyFile,
    client: &ColonyClient,
) -> Result<(), CliError> {
    if connections.running_agent().is_some() {
        return Ok(());
    }
    let pid = connections.start_agent(file)?;
    let agent_id = host_agent::agent_id();
    let deadline = Instant::now() + AGENT_START_TIMEOUT;
    loop {
        if let Ok(agents) = client.list_agents().await
            && agents.agents.iter().any(|a| a.agent_id == agent_id)
        {
            return Ok(());
        }
        let failed = !crate::local::process::is_alive(pid);
        if failed || Instant::now() > deadline {
            let log = connections.agent_log();
            let tail = std::fs::read_to_string(&log)
                .map(|text| {
                    let lines: Vec<&str> = text.lines().collect();
                    lines[lines.len().saturating_sub(5)..].join("\n")
                })
                .unwrap_or_default();
            if !failed {
                let _ = crate::local::process::terminate(pid);
            }
            return Err(CliError::Invalid(format!(
                "the agent did not join colony {} ({}); its last log lines:\n{tail}\n  Full log: {}",
                file.colony_id,
                if failed {
                    "it exited"
                } else {
                    "no enrollment within 45 s"
                },
                log.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn require_root(args: &LocalConnectArgs) -> Result<(), CliError> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if root {
        return Ok(());
    }
    Err(CliError::Invalid(format!(
        "coral connect observes traffic with an eBPF program, which needs root; run it with \
         sudo: sudo coral connect {} --port {}",
        args.component, args.port
    )))
}

/// Names as the agent accepts them: letters, digits, '-', '.', '_'.
fn check_name(what: &str, value: &str) -> Result<(), CliError> {
    let valid = !value.is_empty()
        && value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if valid {
        Ok(())
    } else {
        Err(CliError::Invalid(format!(
            "bad {what} {value:?}: use 1 to 63 letters, digits, '-', '.' or '_' (e.g. api)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coral_proto::colony::v1::{Edge, Node};

    #[test]
    fn names_are_checked() {
        assert!(check_name("component", "api-2.v1_x").is_ok());
        for bad in ["", "a/b", "a b", &"x".repeat(64)] {
            let error = check_name("component", bad).unwrap_err().to_string();
            assert!(error.contains("letters, digits"), "{bad}: {error}");
        }
    }

    #[test]
    fn edges_of_a_component_by_name() {
        let node = |id: &str, name: &str| Node {
            id: id.into(),
            name: name.into(),
            ..Node::default()
        };
        let edge = |s: &str, d: &str| Edge {
            source: s.into(),
            destination: d.into(),
            ..Edge::default()
        };
        let topology = GetTopologyResponse {
            nodes: vec![
                node("host/web", "web"),
                node("host/api", "api"),
                node("host/db", "db"),
            ],
            edges: vec![
                edge("host/web", "host/api"),
                edge("host/api", "host/db"),
                edge("host/web", "host/db"),
            ],
            ..GetTopologyResponse::default()
        };
        assert_eq!(
            edges_of(&topology, "host/api"),
            vec![("web".into(), "api".into()), ("api".into(), "db".into())]
        );
    }
}
