//! Prometheus metrics (prometheus-client, OpenMetrics text at `/metrics`).
//! Hot-path counters are created once so a lookup only bumps an atomic.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// What a registry entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Colony,
    Agent,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Colony => "colony",
            Kind::Agent => "agent",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// One labelled member of a family. A separate function so the family's
/// read guard is dropped before the next `get_or_create` (holding two
/// guards of one family in a single expression deadlocks).
fn member<L, M>(family: &Family<L, M>, labels: &L) -> M
where
    L: Clone + std::hash::Hash + Eq,
    M: Clone + prometheus_client::metrics::TypedMetric + Default,
{
    family.get_or_create(labels).clone()
}

/// Counters of one kind, resolved once.
#[derive(Clone)]
pub struct KindCounters {
    pub registered: Counter,
    pub renewed: Counter,
    pub found: Counter,
    pub not_found: Counter,
    pub expired: Counter,
    pub live: Gauge,
}

pub struct Metrics {
    registry: Registry,
    pub colonies: KindCounters,
    pub agents: KindCounters,
    rejected: Family<ReasonLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("coral_discovery");
        let registrations = Family::<OutcomeLabels, Counter>::default();
        let lookups = Family::<OutcomeLabels, Counter>::default();
        let expirations = Family::<KindLabels, Counter>::default();
        let live = Family::<KindLabels, Gauge>::default();
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "registrations",
            "Successful registrations by kind and outcome (created, renewed)",
            registrations.clone(),
        );
        registry.register(
            "lookups",
            "Lookups by kind and result (found, not_found)",
            lookups.clone(),
        );
        registry.register(
            "live_entries",
            "Live (unexpired) entries by kind",
            live.clone(),
        );
        registry.register(
            "expirations",
            "Leases that expired without renewal, by kind",
            expirations.clone(),
        );
        registry.register(
            "rejected_requests",
            "Requests refused, by reason",
            rejected.clone(),
        );
        let counters = |kind: Kind| {
            let kind = kind.as_str();
            let outcome = |outcome| OutcomeLabels { kind, outcome };
            KindCounters {
                registered: member(&registrations, &outcome("created")),
                renewed: member(&registrations, &outcome("renewed")),
                found: member(&lookups, &outcome("found")),
                not_found: member(&lookups, &outcome("not_found")),
                expired: member(&expirations, &KindLabels { kind }),
                live: member(&live, &KindLabels { kind }),
            }
        };
        Metrics {
            colonies: counters(Kind::Colony),
            agents: counters(Kind::Agent),
            registry,
            rejected,
        }
    }

    pub fn kind(&self, kind: Kind) -> &KindCounters {
        match kind {
            Kind::Colony => &self.colonies,
            Kind::Agent => &self.agents,
        }
    }

    /// Count a refused request; `reason` is a stable snake_case label.
    pub fn rejected(&self, reason: &'static str) {
        self.rejected.get_or_create(&ReasonLabels { reason }).inc();
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
        metrics.colonies.found.inc();
        metrics.rejected("invalid_argument");
        let text = metrics.encode();
        for needle in [
            "coral_discovery_registrations_total{kind=\"colony\",outcome=\"created\"} 0",
            "coral_discovery_lookups_total{kind=\"colony\",outcome=\"found\"} 1",
            "coral_discovery_live_entries{kind=\"agent\"} 0",
            "coral_discovery_expirations_total{kind=\"colony\"} 0",
            "coral_discovery_rejected_requests_total{reason=\"invalid_argument\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
    }
}
