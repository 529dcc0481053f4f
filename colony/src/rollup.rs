//! Turn one agent flow batch into minute rollup rows: one row per edge,
//! with the batch's flows for that edge added up.

use std::collections::BTreeMap;

use coral_proto::agent::v1::{Endpoint, FlowBatch};

use crate::store::{EXTERNAL_KIND, EdgeKey, EdgeMinute, EdgeStats, WorkloadRef};

/// Kind given to an attributed endpoint that did not name one.
const UNKNOWN_KIND: &str = "Workload";

/// A workload when the agent attributed one, else the bare address. Kinds
/// are stored by name (see `WorkloadKind::name`).
pub fn workload_of(endpoint: &Endpoint) -> WorkloadRef {
    if endpoint.workload.is_empty() {
        WorkloadRef {
            namespace: String::new(),
            name: endpoint.ip.clone(),
            kind: EXTERNAL_KIND.to_owned(),
        }
    } else {
        WorkloadRef {
            namespace: endpoint.namespace.clone(),
            name: endpoint.workload.clone(),
            kind: endpoint.kind_name().unwrap_or(UNKNOWN_KIND).to_owned(),
        }
    }
}

/// All flows of the batch land in `minute` (the agent flushes every few
/// seconds, so a batch covers well under a minute).
pub fn rollup(batch: &FlowBatch, minute: i64) -> Vec<EdgeMinute> {
    let mut edges: BTreeMap<EdgeKey, EdgeStats> = BTreeMap::new();
    for flow in &batch.flows {
        let (Some(source), Some(destination)) = (&flow.source, &flow.destination) else {
            continue; // validation refuses these; never index them
        };
        let key = EdgeKey {
            source: workload_of(source),
            destination: workload_of(destination),
            port: destination.port,
        };
        // RTT stays a sum and a count; answers divide (`EdgeStats::rtt_us`).
        let stats = EdgeStats {
            connections: flow.connections_opened,
            failed: flow.connections_failed,
            resets: flow.resets,
            bytes_sent: flow.bytes_sent,
            bytes_received: flow.bytes_received,
            rtt_us_sum: flow.rtt_sum_us,
            rtt_samples: flow.rtt_samples,
        };
        edges.entry(key).or_default().add(&stats);
    }
    edges
        .into_iter()
        .map(|(key, stats)| EdgeMinute { minute, key, stats })
        .collect()
}

/// Start of the minute containing `seconds`.
pub fn minute_of(seconds: i64) -> i64 {
    seconds.div_euclid(60) * 60
}

#[cfg(test)]
mod tests {
    use coral_proto::agent::v1::{Flow, WorkloadKind};

    use super::*;

    fn endpoint(workload: &str, ip: &str, port: u32) -> Endpoint {
        Endpoint {
            ip: ip.into(),
            port,
            namespace: if workload.is_empty() { "" } else { "shop" }.into(),
            workload: workload.into(),
            kind: if workload.is_empty() {
                WorkloadKind::Unspecified
            } else {
                WorkloadKind::Deployment
            }
            .into(),
            ..Default::default()
        }
    }

    /// `closed` connections with an RTT of `rtt_us` each (none when 0).
    fn flow(destination: Endpoint, opened: u64, rtt_us: u64, closed: u64) -> Flow {
        let samples = if rtt_us > 0 { closed } else { 0 };
        Flow {
            source: Some(endpoint("web", "10.0.0.1", 40000)),
            destination: Some(destination),
            connections_opened: opened,
            connections_closed: closed,
            bytes_sent: 10 * opened,
            bytes_received: 20 * opened,
            rtt_sum_us: rtt_us * samples,
            rtt_samples: samples,
            ..Default::default()
        }
    }

    #[test]
    fn adds_up_flows_of_one_edge_and_keeps_external_apart() {
        let batch = FlowBatch {
            flows: vec![
                flow(endpoint("api", "10.0.0.2", 8080), 3, 100, 1),
                flow(endpoint("api", "10.0.0.3", 8080), 2, 400, 3),
                flow(endpoint("", "203.0.113.9", 443), 1, 0, 0),
                Flow::default(),
            ],
            ..Default::default()
        };
        let rows = rollup(&batch, 120);
        assert_eq!(rows.len(), 2);
        let api = rows
            .iter()
            .find(|r| r.key.destination.name == "api")
            .unwrap();
        assert_eq!(api.minute, 120);
        assert_eq!(api.stats.connections, 5);
        assert_eq!(api.stats.bytes_sent, 50);
        assert_eq!(api.stats.bytes_received, 100);
        assert_eq!(api.stats.rtt_us(), (100 + 400 * 3) / 4);
        let ext = rows
            .iter()
            .find(|r| r.key.destination.is_external())
            .unwrap();
        assert_eq!(ext.key.destination.name, "203.0.113.9");
        assert_eq!(ext.key.port, 443);
        assert_eq!(ext.stats.rtt_samples, 0);
    }

    #[test]
    fn kinds_are_stored_by_name() {
        let kind_of = |kind: WorkloadKind, other: &str| {
            let mut end = endpoint("api", "10.0.0.2", 8080);
            end.set_kind(kind);
            end.other_kind = other.into();
            workload_of(&end).kind
        };
        assert_eq!(kind_of(WorkloadKind::StatefulSet, ""), "StatefulSet");
        assert_eq!(kind_of(WorkloadKind::Other, "Rollout"), "Rollout");
        assert_eq!(kind_of(WorkloadKind::Unspecified, ""), UNKNOWN_KIND);
        assert_eq!(kind_of(WorkloadKind::Other, ""), UNKNOWN_KIND);
        // No workload: external, whatever the agent said.
        let mut bare = endpoint("", "203.0.113.9", 443);
        bare.set_kind(WorkloadKind::Deployment);
        assert_eq!(workload_of(&bare).kind, EXTERNAL_KIND);
    }

    #[test]
    fn minutes_round_down() {
        assert_eq!(minute_of(119), 60);
        assert_eq!(minute_of(120), 120);
        assert_eq!(minute_of(-1), -60);
    }
}
