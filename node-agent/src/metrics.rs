//! Prometheus metrics (OpenMetrics text at `/metrics`). Capture and
//! attribution are node-wide; delivery is per colony (label `colony`), since
//! an agent may report to several colonies, each through its own tunnel.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type ColonyLabels = Vec<(&'static str, String)>;

pub struct Metrics {
    registry: Registry,
    pub flows_captured: Counter,
    pub connections_captured: Counter,
    pub flows_unattributed: Counter,
    pub flows_left_to_client: Counter,
    pub flows_external_remote: Counter,
    pub flows_out_of_scope: Counter,
    pub flow_map_overflows: Counter,
    pub drain_errors: Counter,
    pub colonies: Gauge,
    per_colony: ColonyFamilies,
}

/// One series per colony of each delivery metric.
#[derive(Default)]
struct ColonyFamilies {
    flows_reported: Family<ColonyLabels, Counter>,
    batches_sent: Family<ColonyLabels, Counter>,
    batches_duplicate: Family<ColonyLabels, Counter>,
    batches_failed: Family<ColonyLabels, Counter>,
    batches_rejected: Family<ColonyLabels, Counter>,
    batches_dropped: Family<ColonyLabels, Counter>,
    heartbeats_failed: Family<ColonyLabels, Counter>,
    batches_buffered: Family<ColonyLabels, Gauge>,
    enrolled: Family<ColonyLabels, Gauge>,
    last_acknowledged_sequence: Family<ColonyLabels, Gauge<u64, AtomicU64>>,
    mesh_up: Family<ColonyLabels, Gauge>,
    mesh_handshake_age_seconds: Family<ColonyLabels, Gauge>,
}

/// The delivery metrics of one colony, plus the node-wide counters its
/// heartbeats carry.
#[derive(Clone, Default)]
pub struct ColonyMetrics {
    pub flows_reported: Counter,
    pub batches_sent: Counter,
    pub batches_duplicate: Counter,
    pub batches_failed: Counter,
    pub batches_rejected: Counter,
    pub batches_dropped: Counter,
    pub heartbeats_failed: Counter,
    pub batches_buffered: Gauge,
    pub enrolled: Gauge,
    pub last_acknowledged_sequence: Gauge<u64, AtomicU64>,
    pub mesh_up: Gauge,
    pub mesh_handshake_age_seconds: Gauge,
    pub flows_captured: Counter,
    pub flow_map_overflows: Counter,
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
            flows_unattributed: Counter::default(),
            flows_left_to_client: Counter::default(),
            flows_external_remote: Counter::default(),
            flows_out_of_scope: Counter::default(),
            flow_map_overflows: Counter::default(),
            drain_errors: Counter::default(),
            colonies: Gauge::default(),
            per_colony: ColonyFamilies::default(),
        };
        let node_counters: [(&str, &str, &Counter); 8] = [
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
                "Attributed flows whose far end is an external endpoint",
                &metrics.flows_external_remote,
            ),
            (
                "flows_out_of_scope",
                "Attributed flows no colony this agent reports to asked for (neither end selected by its Connections)",
                &metrics.flows_out_of_scope,
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
        ];
        for (name, help, counter) in node_counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "colonies",
            "Colonies this agent reports to",
            metrics.colonies.clone(),
        );
        let families = &metrics.per_colony;
        let colony_counters: [(&str, &str, &Family<ColonyLabels, Counter>); 7] = [
            (
                "flows_reported",
                "Flows the colony acknowledged",
                &families.flows_reported,
            ),
            (
                "batches_sent",
                "Flow batches the colony acknowledged",
                &families.batches_sent,
            ),
            (
                "batches_duplicate",
                "Acknowledged batches the colony already had (retries)",
                &families.batches_duplicate,
            ),
            (
                "batches_failed",
                "Batch send attempts that failed and will be retried",
                &families.batches_failed,
            ),
            (
                "batches_rejected",
                "Batches the colony refused as invalid (not retried)",
                &families.batches_rejected,
            ),
            (
                "batches_dropped",
                "Oldest batches dropped because the buffer was full",
                &families.batches_dropped,
            ),
            (
                "heartbeats_failed",
                "Heartbeats that failed",
                &families.heartbeats_failed,
            ),
        ];
        for (name, help, family) in colony_counters {
            registry.register(name, help, family.clone());
        }
        let colony_gauges: [(&str, &str, &Family<ColonyLabels, Gauge>); 4] = [
            (
                "batches_buffered",
                "Batches waiting for the colony",
                &families.batches_buffered,
            ),
            (
                "enrolled",
                "1 while enrolled with the colony",
                &families.enrolled,
            ),
            (
                "mesh_up",
                "1 while the tunnel to the colony has a WireGuard session",
                &families.mesh_up,
            ),
            (
                "mesh_handshake_age_seconds",
                "Seconds since the last WireGuard handshake with the colony",
                &families.mesh_handshake_age_seconds,
            ),
        ];
        for (name, help, family) in colony_gauges {
            registry.register(name, help, family.clone());
        }
        registry.register(
            "last_acknowledged_sequence",
            "Sequence number of the last batch the colony acknowledged",
            families.last_acknowledged_sequence.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// Handles to `colony`'s series (created on first use).
    pub fn colony(&self, colony: &str) -> ColonyMetrics {
        let labels = labels(colony);
        let f = &self.per_colony;
        ColonyMetrics {
            flows_reported: f.flows_reported.get_or_create(&labels).clone(),
            batches_sent: f.batches_sent.get_or_create(&labels).clone(),
            batches_duplicate: f.batches_duplicate.get_or_create(&labels).clone(),
            batches_failed: f.batches_failed.get_or_create(&labels).clone(),
            batches_rejected: f.batches_rejected.get_or_create(&labels).clone(),
            batches_dropped: f.batches_dropped.get_or_create(&labels).clone(),
            heartbeats_failed: f.heartbeats_failed.get_or_create(&labels).clone(),
            batches_buffered: f.batches_buffered.get_or_create(&labels).clone(),
            enrolled: f.enrolled.get_or_create(&labels).clone(),
            last_acknowledged_sequence: f.last_acknowledged_sequence.get_or_create(&labels).clone(),
            mesh_up: f.mesh_up.get_or_create(&labels).clone(),
            mesh_handshake_age_seconds: f.mesh_handshake_age_seconds.get_or_create(&labels).clone(),
            flows_captured: self.flows_captured.clone(),
            flow_map_overflows: self.flow_map_overflows.clone(),
        }
    }

    /// Drops a colony's series once the agent no longer reports to it.
    pub fn forget_colony(&self, colony: &str) {
        let labels = labels(colony);
        let f = &self.per_colony;
        f.flows_reported.remove(&labels);
        f.batches_sent.remove(&labels);
        f.batches_duplicate.remove(&labels);
        f.batches_failed.remove(&labels);
        f.batches_rejected.remove(&labels);
        f.batches_dropped.remove(&labels);
        f.heartbeats_failed.remove(&labels);
        f.batches_buffered.remove(&labels);
        f.enrolled.remove(&labels);
        f.last_acknowledged_sequence.remove(&labels);
        f.mesh_up.remove(&labels);
        f.mesh_handshake_age_seconds.remove(&labels);
    }

    pub fn render(&self) -> String {
        coral_telemetry::encode_registry(&self.registry)
    }
}

fn labels(colony: &str) -> ColonyLabels {
    vec![("colony", colony.to_owned())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_node_and_per_colony_metrics() {
        let metrics = Metrics::new();
        let shop = metrics.colony("shop/shop");
        shop.batches_dropped.inc_by(3);
        shop.batches_buffered.set(7);
        metrics.colony("web/web").batches_dropped.inc();
        let text = metrics.render();
        for wanted in [
            "coral_node_agent_batches_dropped_total{colony=\"shop/shop\"} 3",
            "coral_node_agent_batches_dropped_total{colony=\"web/web\"} 1",
            "coral_node_agent_batches_buffered{colony=\"shop/shop\"} 7",
            "coral_node_agent_flows_unattributed_total 0",
        ] {
            assert!(text.contains(wanted), "{wanted} missing from\n{text}");
        }
        // Handles share the series: a second handle sees the first's count.
        assert_eq!(metrics.colony("shop/shop").batches_dropped.get(), 3);
        metrics.forget_colony("web/web");
        assert!(!metrics.render().contains("web/web"));
    }
}
