//! The `coral status` table (its layout is pinned by `tests/golden`).

use chrono::{DateTime, Utc};
use coral_proto::colony::v1::{Agent, Component};

use super::RULE;
use super::units::duration;
use crate::output::{Style, table};
use crate::report::{OBSERVED_WINDOW_SECONDS, ObservedComponent, StatusReport};

pub fn render(report: &StatusReport, style: Style, now: DateTime<Utc>) -> String {
    let colony = &report.colony;
    let mut out = String::new();
    out.push_str(&style.bold(&format!(
        "APPLICATION: {} ({})",
        colony.application, colony.environment
    )));
    out.push('\n');
    out.push_str(RULE);
    out.push('\n');
    let health = if colony.status.is_empty() {
        "unknown"
    } else {
        colony.status.as_str()
    };
    out.push_str(&format!(
        "Colony: {} ({}) · {} · v{} · up {}\n",
        colony.colony_id,
        report.location,
        style.status(health, health),
        colony.version,
        duration(colony.uptime_seconds),
    ));
    let connected = report
        .agents
        .iter()
        .filter(|agent| agent.status == "connected")
        .count();
    out.push_str(&format!(
        "Agents: {connected} connected ({} enrolled)\n",
        report.agents.len()
    ));
    if !report.components.is_empty() {
        out.push_str(&format!(
            "Connected: {} components\n\n",
            report.components.len()
        ));
        out.push_str(&components_table(&report.components, style));
    } else if !report.observed.is_empty() {
        out.push_str(&format!(
            "Seen in traffic (last {}): {} components\n\n",
            super::units::window(OBSERVED_WINDOW_SECONDS),
            report.observed.len()
        ));
        out.push_str(&observed_table(&report.observed, style));
    } else {
        out.push_str("Connected: 0 components\n\n");
        out.push_str(
            "No components yet. Connect one with `coral connect <component> --port <port>`\n\
             (in Kubernetes: `kubectl coral connect <component> --selector app=<label> --port <port>`).\n",
        );
    }
    if !report.agents.is_empty() {
        out.push('\n');
        out.push_str(&agents_table(&report.agents, style, now));
    }
    out
}

fn components_table(components: &[Component], style: Style) -> String {
    let rows: Vec<Vec<String>> = components
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                style.status(&c.status, &format!("●  {}", c.status)),
                dash(&c.version),
                duration(c.uptime_seconds),
                ports_text(&c.ports),
                c.restarts.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "COMPONENT",
            "STATUS",
            "VERSION",
            "UPTIME",
            "PORT",
            "RESTARTS",
        ],
        &rows,
    )
}

fn observed_table(observed: &[ObservedComponent], style: Style) -> String {
    let rows: Vec<Vec<String>> = observed
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                dash(&c.namespace),
                style.status("active", "●  active"),
                ports_text(&c.ports),
            ]
        })
        .collect();
    table(&["COMPONENT", "NAMESPACE", "STATUS", "PORT"], &rows)
}

/// "8080,9090", or "-" for none.
fn ports_text(ports: &[u32]) -> String {
    let joined = ports
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    dash(&joined)
}

fn agents_table(agents: &[Agent], style: Style, now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|a| {
            let last_seen = a
                .last_seen
                .and_then(|t| t.to_datetime())
                .map(|t| format!("{} ago", duration((now - t).num_seconds().max(1))))
                .unwrap_or_else(|| "-".into());
            vec![
                a.agent_id.clone(),
                dash(&a.node_name),
                dash(&a.mesh_ipv4),
                style.status(&a.status, &a.status),
                dash(&a.version),
                last_seen,
            ]
        })
        .collect();
    table(
        &["AGENT", "NODE", "MESH IP", "STATUS", "VERSION", "LAST SEEN"],
        &rows,
    )
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.to_owned()
    }
}
