//! The `coral topology` tree (its layout is pinned by `tests/golden`), and
//! exports (`--export dot|mermaid|json`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use coral_proto::colony::v1::{Edge, GetTopologyResponse, Node};

use super::RULE;
use super::units::{bytes, rate, window};
use crate::output::Style;
use crate::report::TopologyReport;

/// Length of the window the edges were summed over, in minutes (the
/// colony's whole-minute buckets can make it longer than asked).
fn minutes(report: &TopologyReport) -> f64 {
    let topology = &report.topology;
    let span = match (topology.window_start, topology.window_end) {
        (Some(start), Some(end)) if end.seconds > start.seconds => end.seconds - start.seconds,
        _ => report.window_seconds,
    };
    (span.max(60) as f64) / 60.0
}

struct Labels<'a> {
    nodes: BTreeMap<&'a str, &'a Node>,
}

impl<'a> Labels<'a> {
    fn new(topology: &'a GetTopologyResponse) -> Labels<'a> {
        Labels {
            nodes: topology.nodes.iter().map(|n| (n.id.as_str(), n)).collect(),
        }
    }

    fn name(&self, id: &str) -> String {
        match self.nodes.get(id) {
            Some(node) if !node.name.is_empty() => node.name.clone(),
            _ => id.to_owned(),
        }
    }

    fn external(&self, id: &str) -> bool {
        self.nodes.get(id).is_some_and(|n| n.external)
    }

    /// "api (shop)" for a workload, the address for an external endpoint.
    fn label(&self, id: &str) -> String {
        match self.nodes.get(id) {
            Some(node) if !node.external && !node.namespace.is_empty() => {
                format!("{} ({})", self.name(id), node.namespace)
            }
            _ => self.name(id),
        }
    }

    fn target(&self, edge: &Edge) -> String {
        let name = self.name(&edge.destination);
        let with_port = if edge.port != 0 {
            format!("{name}:{}", edge.port)
        } else {
            name
        };
        match self.nodes.get(edge.destination.as_str()) {
            Some(node) if !node.external && !node.namespace.is_empty() => {
                format!("{with_port} ({})", node.namespace)
            }
            _ => with_port,
        }
    }
}

/// Sources in reading order: entry points first (nodes nobody calls),
/// then breadth-first along edges, alphabetical within a level.
fn source_order(topology: &GetTopologyResponse) -> Vec<String> {
    let mut outgoing: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut called: BTreeSet<&str> = BTreeSet::new();
    for edge in &topology.edges {
        outgoing
            .entry(edge.source.as_str())
            .or_default()
            .insert(edge.destination.as_str());
        called.insert(edge.destination.as_str());
    }
    let mut queue: VecDeque<&str> = outgoing
        .keys()
        .filter(|id| !called.contains(*id))
        .copied()
        .collect();
    let mut seen: BTreeSet<&str> = queue.iter().copied().collect();
    let mut order = Vec::new();
    loop {
        while let Some(id) = queue.pop_front() {
            if outgoing.contains_key(id) {
                order.push(id.to_owned());
            }
            for next in outgoing.get(id).into_iter().flatten() {
                if seen.insert(*next) {
                    queue.push_back(*next);
                }
            }
        }
        // Cycles without an entry point: start from the first unseen source.
        match outgoing.keys().find(|id| !seen.contains(*id)) {
            Some(id) => {
                seen.insert(*id);
                queue.push_back(*id);
            }
            None => break,
        }
    }
    order
}

pub fn render(report: &TopologyReport, style: Style) -> String {
    let topology = &report.topology;
    let labels = Labels::new(topology);
    let minutes = minutes(report);
    let mut out = String::new();
    out.push_str(&style.bold(&format!(
        "SERVICE TOPOLOGY (last {})",
        window(report.window_seconds)
    )));
    out.push('\n');
    out.push_str(RULE);
    out.push('\n');
    if topology.edges.is_empty() {
        out.push_str(&format!(
            "\nNo traffic seen in the last {}.\n\
             Connect components with `coral connect <component> --port <port>` and wait for them to talk,\n\
             or look further back with `--window 1h`.\n",
            window(report.window_seconds)
        ));
        return out;
    }
    for source in source_order(topology) {
        let mut edges: Vec<&Edge> = topology
            .edges
            .iter()
            .filter(|e| e.source == source)
            .collect();
        edges.sort_by_key(|e| (labels.external(&e.destination), labels.target(e)));
        out.push('\n');
        out.push_str(&style.bold(&labels.label(&source)));
        out.push('\n');
        let targets: Vec<String> = edges.iter().map(|e| labels.target(e)).collect();
        let width = targets.iter().map(|t| t.chars().count()).max().unwrap_or(0);
        for (edge, target) in edges.iter().zip(targets) {
            let pad = width - target.chars().count();
            out.push_str(&format!(
                "  → {target}{}    {}\n",
                " ".repeat(pad),
                style.dim(&format!("[{}]", edge_summary(edge, minutes)))
            ));
        }
    }
    let externals: BTreeSet<String> = topology
        .edges
        .iter()
        .filter(|e| labels.external(&e.destination))
        .map(|e| labels.name(&e.destination))
        .collect();
    out.push('\n');
    out.push_str(&format!(
        "Detected Dependencies: {}\n",
        topology.edges.len()
    ));
    if externals.is_empty() {
        out.push_str("External Services: 0\n");
    } else {
        out.push_str(&format!(
            "External Services: {} ({})\n",
            externals.len(),
            externals.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    out.push_str("\nExport graph: coral topology --export topology.dot\n");
    out
}

/// "9 conn/min · 1.2 KiB/min · 1 failed" over the report's window.
fn edge_summary(edge: &Edge, minutes: f64) -> String {
    let mut parts = vec![format!(
        "{} conn/min",
        rate(edge.connections as f64 / minutes)
    )];
    let traffic = (edge.bytes_sent + edge.bytes_received) as f64 / minutes;
    if traffic > 0.0 {
        parts.push(format!("{}/min", bytes(traffic)));
    }
    if edge.failed_connections > 0 {
        parts.push(format!("{} failed", edge.failed_connections));
    }
    if edge.resets > 0 {
        parts.push(format!("{} resets", edge.resets));
    }
    if edge.rtt_us > 0 {
        parts.push(format!("rtt {:.1} ms", f64::from(edge.rtt_us) / 1000.0));
    }
    parts.join(" · ")
}

/// Graphviz: `coral topology --export dot | dot -Tsvg > topology.svg`.
pub fn dot(report: &TopologyReport) -> String {
    let topology = &report.topology;
    let labels = Labels::new(topology);
    let minutes = minutes(report);
    let mut out = String::from("digraph coral {\n  rankdir=LR;\n  node [shape=box];\n");
    for id in node_ids(topology) {
        let shape = if labels.external(&id) {
            ", shape=ellipse, style=dashed"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {} [label={}{shape}];\n",
            quote(&id),
            quote(&labels.label(&id))
        ));
    }
    for edge in &topology.edges {
        out.push_str(&format!(
            "  {} -> {} [label={}];\n",
            quote(&edge.source),
            quote(&edge.destination),
            quote(&format!(
                "{}{} conn/min",
                port_prefix(edge),
                rate(edge.connections as f64 / minutes)
            ))
        ));
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart (renders in GitHub markdown).
pub fn mermaid(report: &TopologyReport) -> String {
    let topology = &report.topology;
    let labels = Labels::new(topology);
    let minutes = minutes(report);
    let ids = node_ids(topology);
    let index: BTreeMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut out = String::from("graph LR\n");
    for (i, id) in ids.iter().enumerate() {
        let text = labels.label(id).replace('"', "'");
        if labels.external(id) {
            out.push_str(&format!("  n{i}([\"{text}\"])\n"));
        } else {
            out.push_str(&format!("  n{i}[\"{text}\"]\n"));
        }
    }
    for edge in &topology.edges {
        out.push_str(&format!(
            "  n{} -->|\"{}{} conn/min\"| n{}\n",
            index[edge.source.as_str()],
            port_prefix(edge),
            rate(edge.connections as f64 / minutes),
            index[edge.destination.as_str()]
        ));
    }
    out
}

fn port_prefix(edge: &Edge) -> String {
    if edge.port != 0 {
        format!(":{} · ", edge.port)
    } else {
        String::new()
    }
}

/// Every node id, from the node list and the edges, sorted.
fn node_ids(topology: &GetTopologyResponse) -> Vec<String> {
    let mut ids: BTreeSet<String> = topology.nodes.iter().map(|n| n.id.clone()).collect();
    for edge in &topology.edges {
        ids.insert(edge.source.clone());
        ids.insert(edge.destination.clone());
    }
    ids.into_iter().collect()
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
