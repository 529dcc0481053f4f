//! Turn one agent flow batch into minute rollup rows: one row per edge,
//! with the batch's flows for that edge added up.

use std::collections::BTreeMap;

use coral_proto::agent::v1::{Endpoint, FlowBatch};

use crate::store::{EXTERNAL_KIND, EdgeKey, EdgeMinute, EdgeStats, WorkloadRef};

/// Kind given to an attributed endpoint that did not name one.
const UNKNOWN_KIND: &str = "Workload";

/// A workload when the agent attributed one, else the bare address.
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
            kind: if endpoint.kind.is_empty() {
                UNKNOWN_KIND.to_owned()
            } else {
                endpoint.kind.clone()
            },
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
        // RTT is averaged over closed connections; weight it by them.
        let samples = if flow.rtt_us > 0 {
            flow.connections_closed.max(1)
        } else {
            0
        };
        let stats = EdgeStats {
            connections: flow.connections_opened,
            failed: flow.connections_failed,
            resets: flow.resets,
            bytes_sent: flow.bytes_sent,
            bytes_received: flow.bytes_received,
            rtt_us_sum: u64::from(flow.rtt_us).saturating_mul(samples),
            rtt_samples: samples,
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
    use coral_proto::agent::v1::Flow;

    use super::*;

    fn endpoint(workload: &str, ip: &str, port: u32) -> Endpoint {
        Endpoint {
            ip: ip.into(),
            port,
            namespace: if workload.is_empty() { "" } else { "shop" }.into(),
            workload: workload.into(),
            kind: if workload.is_empty() {
                ""
            } else {
                "Deployment"
            }
            .into(),
            ..Default::default()
        }
    }

    fn flow(destination: Endpoint, opened: u64, rtt_us: u32, closed: u64) -> Flow {
        Flow {
            source: Some(endpoint("web", "10.0.0.1", 40000)),
            destination: Some(destination),
            connections_opened: opened,
            connections_closed: closed,
            bytes_sent: 10 * opened,
            bytes_received: 20 * opened,
            rtt_us,
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
    fn minutes_round_down() {
        assert_eq!(minute_of(119), 60);
        assert_eq!(minute_of(120), 120);
        assert_eq!(minute_of(-1), -60);
    }
}
