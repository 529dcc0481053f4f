//! Prometheus metrics: reconciles, errors and duration per controller, and
//! writes per kind (the benchmark reads `coral_operator_writes_total` to show
//! that a resync of an unchanged world makes none).

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    reconciles: Family<ControllerLabels, Counter>,
    errors: Family<ControllerLabels, Counter>,
    duration: Family<ControllerLabels, Histogram>,
    writes: Family<KindLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("coral_operator");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let errors = Family::<ControllerLabels, Counter>::default();
        let duration = Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        let writes = Family::<KindLabels, Counter>::default();
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register("reconcile_errors", "Reconciles that failed", errors.clone());
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration",
            duration.clone(),
        );
        registry.register(
            "writes",
            "Create, apply and delete calls made on the Kubernetes API",
            writes.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            reconciles,
            errors,
            duration,
            writes,
        }
    }
}

impl Metrics {
    pub fn record_reconcile(&self, controller: &str, took: Duration) {
        let labels = ControllerLabels {
            controller: controller.to_string(),
        };
        self.reconciles.get_or_create(&labels).inc();
        self.duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn record_error(&self, controller: &str) {
        self.errors
            .get_or_create(&ControllerLabels {
                controller: controller.to_string(),
            })
            .inc();
    }

    pub fn record_write(&self, kind: &str) {
        self.writes
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Total writes so far (all kinds).
    pub fn total_writes(&self) -> u64 {
        let registry_text = self.encode();
        registry_text
            .lines()
            .filter(|line| line.starts_with("coral_operator_writes_total{"))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// OpenMetrics text.
    pub fn encode(&self) -> String {
        let registry = self
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        coral_telemetry::encode_registry(&registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_counted_and_encoded() {
        let metrics = Metrics::default();
        metrics.record_write("Service");
        metrics.record_write("Service");
        metrics.record_write("Secret");
        metrics.record_reconcile("colony", Duration::from_millis(3));
        assert_eq!(metrics.total_writes(), 3);
        let text = metrics.encode();
        assert!(
            text.contains("coral_operator_reconciles_total{controller=\"colony\"} 1"),
            "{text}"
        );
    }
}
