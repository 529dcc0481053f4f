//! Prometheus metrics (prometheus-client, OpenMetrics text at `/metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub batches_received: Counter,
    pub batches_duplicate: Counter,
    batches_rejected: Family<ReasonLabels, Counter>,
    pub flows_stored: Counter,
    pub rollup_rows_stored: Counter,
    pub store_errors: Counter,
    pub enrollments: Counter,
    enrollments_rejected: Family<ReasonLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("coral_colony");
        let metrics = Metrics {
            batches_received: Counter::default(),
            batches_duplicate: Counter::default(),
            batches_rejected: Family::default(),
            flows_stored: Counter::default(),
            rollup_rows_stored: Counter::default(),
            store_errors: Counter::default(),
            enrollments: Counter::default(),
            enrollments_rejected: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "batches_received",
            "Flow batches received from agents",
            metrics.batches_received.clone(),
        );
        registry.register(
            "batches_duplicate",
            "Flow batches already stored (retries), acknowledged without counting",
            metrics.batches_duplicate.clone(),
        );
        registry.register(
            "batches_rejected",
            "Flow batches refused, by reason",
            metrics.batches_rejected.clone(),
        );
        registry.register(
            "flows_stored",
            "Flows stored from applied batches",
            metrics.flows_stored.clone(),
        );
        registry.register(
            "rollup_rows_stored",
            "Minute rollup rows written",
            metrics.rollup_rows_stored.clone(),
        );
        registry.register(
            "store_errors",
            "Storage operations that failed",
            metrics.store_errors.clone(),
        );
        registry.register(
            "enrollments",
            "Accepted agent enrollments",
            metrics.enrollments.clone(),
        );
        registry.register(
            "enrollments_rejected",
            "Refused agent enrollments, by reason",
            metrics.enrollments_rejected.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    pub fn batch_rejected(&self, reason: &'static str) {
        self.batches_rejected
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub fn enrollment_rejected(&self, reason: &'static str) {
        self.enrollments_rejected
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        coral_telemetry::encode_registry(&self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_every_family_with_prefix() {
        let metrics = Metrics::new();
        metrics.batches_received.inc();
        metrics.batch_rejected("invalid_argument");
        let text = metrics.encode();
        for needle in [
            "coral_colony_batches_received_total 1",
            "coral_colony_batches_duplicate_total 0",
            "coral_colony_batches_rejected_total{reason=\"invalid_argument\"} 1",
            "coral_colony_flows_stored_total 0",
            "coral_colony_store_errors_total 0",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
