//! State shared by every reconcile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};

use crate::metrics::Metrics;
use crate::node_agent::NodeAgentSettings;

/// Settings of the operator process (flags / environment).
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// Namespace the operator runs in; the node-agent DaemonSet lives here.
    pub namespace: String,
    /// Default colony image (a Colony's `spec.image` overrides it).
    pub colony_image: String,
    /// Node-agent image.
    pub node_agent_image: String,
    /// Default reef image (a Reef's `spec.image` overrides it).
    pub reef_image: String,
    /// Pod settings of the node-agent DaemonSet.
    pub node_agent: NodeAgentSettings,
    /// The operator's own Deployment (in `namespace`), made the owner of the
    /// node-agent DaemonSet so that uninstalling the operator removes it.
    pub owner_deployment: Option<String>,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        let version = env!("CARGO_PKG_VERSION");
        Self {
            namespace: "coral-system".into(),
            colony_image: format!("ghcr.io/coral-dev/coral-colony:{version}"),
            node_agent_image: format!("ghcr.io/coral-dev/coral-node-agent:{version}"),
            reef_image: format!("ghcr.io/coral-dev/coral-reef:{version}"),
            node_agent: NodeAgentSettings::default(),
            owner_deployment: None,
        }
    }
}

pub struct Context {
    pub client: Client,
    pub config: OperatorConfig,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(client: Client, config: OperatorConfig, metrics: Arc<Metrics>) -> Self {
        let reporter = Reporter {
            controller: crate::FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let recorder = Recorder::new(client.clone(), reporter);
        Self {
            client,
            config,
            metrics,
            recorder,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Exponential backoff per object: 2 s, 4 s, … capped at 5 minutes.
    pub fn next_backoff(&self, key: &str) -> Duration {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = failures.entry(key.to_string()).or_insert(0);
        *count = count.saturating_add(1);
        backoff_for(*count)
    }

    pub fn reset_backoff(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
    }
}

/// Bounded parallel reconciles per controller: keeps memory and apiserver
/// load flat when thousands of objects arrive at once (full resync, bulk apply).
pub fn controller_config() -> kube::runtime::controller::Config {
    kube::runtime::controller::Config::default().concurrency(16)
}

pub fn backoff_for(failures: u32) -> Duration {
    let seconds = 2u64.saturating_pow(failures.min(16));
    Duration::from_secs(seconds.min(300))
}

#[cfg(test)]
mod tests {
    use super::backoff_for;
    use std::time::Duration;

    #[test]
    fn backoff_grows_then_caps() {
        assert_eq!(backoff_for(1), Duration::from_secs(2));
        assert_eq!(backoff_for(3), Duration::from_secs(8));
        assert_eq!(backoff_for(40), Duration::from_secs(300));
    }
}
