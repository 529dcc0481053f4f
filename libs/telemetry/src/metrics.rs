//! The `/metrics` text. Each binary keeps its own prometheus-client
//! registry; this renders it in OpenMetrics text on every scrape.

use std::sync::Arc;

use prometheus_client::registry::Registry;

/// The content type of [`encode_registry`]'s text.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A registry's metrics in OpenMetrics text.
pub fn encode_registry(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    text
}

/// What `/metrics` answers, rendered anew on every scrape.
#[derive(Clone)]
pub struct MetricsSource(Arc<dyn Fn() -> String + Send + Sync>);

impl MetricsSource {
    /// A registry whose metrics are updated where things happen.
    pub fn registry(registry: Arc<Registry>) -> Self {
        Self::from_fn(move || encode_registry(&registry))
    }

    /// For binaries that refresh gauges or lock their registry before
    /// encoding it.
    pub fn from_fn(render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        Self(Arc::new(render))
    }

    pub fn render(&self) -> String {
        (self.0)()
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;

    use super::*;

    #[test]
    fn a_registry_renders_its_current_counts() {
        let mut registry = Registry::with_prefix("coral_test");
        let requests = Counter::<u64>::default();
        registry.register("requests", "Requests served", requests.clone());
        let source = MetricsSource::registry(Arc::new(registry));
        requests.inc();
        let text = source.render();
        assert!(text.contains("coral_test_requests_total 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
