//! Prometheus metrics (OpenMetrics text at `/metrics`).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub struct Metrics {
    registry: Registry,
    pub flows_captured: Counter,
    pub connections_captured: Counter,
    pub flows_reported: Counter,
    pub flows_unattributed: Counter,
    pub flows_left_to_client: Counter,
    pub flows_external_remote: Counter,
    pub flow_map_overflows: Counter,
    pub drain_errors: Counter,
    pub batches_sent: Counter,
    pub batches_duplicate: Counter,
    pub batches_failed: Counter,
    pub batches_rejected: Counter,
    pub batches_dropped: Counter,
    pub batches_buffered: Gauge,
    pub enrolled: Gauge,
    pub heartbeats_failed: Counter,
    pub last_acknowledged_sequence: Gauge<u64, AtomicU64>,
    pub mesh_up: Gauge,
    pub mesh_handshake_age_seconds: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("coral_node_agent");
        let metrics = Self {
            registry: Registry::default(),
            flows_captured: Counter::default(),
            connections_captured: Counter::default(),
            flows_reported: Counter::default(),
            flows_unattributed: Counter::default(),
            flows_left_to_client: Counter::default(),
            flows_external_remote: Counter::default(),
            flow_map_overflows: Counter::default(),
            drain_errors: Counter::default(),
            batches_sent: Counter::default(),
            batches_duplicate: Counter::default(),
            batches_failed: Counter::default(),
            batches_rejected: Counter::default(),
            batches_dropped: Counter::default(),
            batches_buffered: Gauge::default(),
            enrolled: Gauge::default(),
            heartbeats_failed: Counter::default(),
            last_acknowledged_sequence: Gauge::default(),
            mesh_up: Gauge::default(),
            mesh_handshake_age_seconds: Gauge::default(),
        };
        let counters: [(&str, &str, &Counter); 14] = [
            (
                "flows_captured",
                "Flow records drained from the kernel maps",
                &metrics.flows_captured,
            ),
            (
                "connections_captured",
                "TCP connections opened, as counted in the kernel",
                &metrics.connections_captured,
            ),
            (
                "flows_reported",
                "Flows put into batches for the colony",
                &metrics.flows_reported,
            ),
            (
                "flows_unattributed",
                "Attribution misses: flow records whose local end is no known workload (not reported)",
                &metrics.flows_unattributed,
            ),
            (
                "flows_left_to_client",
                "Inbound flow records not reported because the client's agent reports them",
                &metrics.flows_left_to_client,
            ),
            (
                "flows_external_remote",
                "Reported flows whose far end is an external endpoint",
                &metrics.flows_external_remote,
            ),
            (
                "flow_map_overflows",
                "Kernel flow-map updates lost because the map was full",
                &metrics.flow_map_overflows,
            ),
            (
                "drain_errors",
                "Failed drains of the kernel maps",
                &metrics.drain_errors,
            ),
            (
                "batches_sent",
                "Flow batches the colony acknowledged",
                &metrics.batches_sent,
            ),
            (
                "batches_duplicate",
                "Acknowledged batches the colony already had (retries)",
                &metrics.batches_duplicate,
            ),
            (
                "batches_failed",
                "Batch send attempts that failed and will be retried",
                &metrics.batches_failed,
            ),
            (
                "batches_rejected",
                "Batches the colony refused as invalid (not retried)",
                &metrics.batches_rejected,
            ),
            (
                "batches_dropped",
                "Oldest batches dropped because the buffer was full",
                &metrics.batches_dropped,
            ),
            (
                "heartbeats_failed",
                "Heartbeats that failed",
                &metrics.heartbeats_failed,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "batches_buffered",
            "Batches waiting for the colony",
            metrics.batches_buffered.clone(),
        );
        registry.register(
            "enrolled",
            "1 while enrolled with the colony",
            metrics.enrolled.clone(),
        );
        registry.register(
            "last_acknowledged_sequence",
            "Sequence number of the last batch the colony acknowledged",
            metrics.last_acknowledged_sequence.clone(),
        );
        registry.register(
            "mesh_up",
            "1 while the tunnel to the colony has a WireGuard session",
            metrics.mesh_up.clone(),
        );
        registry.register(
            "mesh_handshake_age_seconds",
            "Seconds since the last WireGuard handshake with the colony",
            metrics.mesh_handshake_age_seconds.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    pub fn render(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric() {
        let metrics = Metrics::new();
        metrics.batches_dropped.inc_by(3);
        metrics.batches_buffered.set(7);
        let text = metrics.render();
        assert!(
            text.contains("coral_node_agent_batches_dropped_total 3"),
            "{text}"
        );
        assert!(
            text.contains("coral_node_agent_batches_buffered 7"),
            "{text}"
        );
        assert!(
            text.contains("coral_node_agent_flows_unattributed_total 0"),
            "{text}"
        );
    }
}
