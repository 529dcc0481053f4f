//! Pod settings of the node-agent DaemonSet. The operator, not Helm, creates
//! that DaemonSet, so the chart's `nodeAgent.*` values reach it as one JSON
//! document (`--node-agent-settings`, env `CORAL_NODE_AGENT_SETTINGS`).

use std::collections::BTreeMap;

use clap::ValueEnum;
use coral_telemetry::{LogFormat, LogLevel};
use k8s_openapi::api::core::v1::{LocalObjectReference, ResourceRequirements, Toleration};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct NodeAgentSettings {
    pub resources: Option<ResourceRequirements>,
    pub node_selector: BTreeMap<String, String>,
    /// Default: tolerate every taint, so flows are observed wherever pods run.
    pub tolerations: Vec<Toleration>,
    pub priority_class_name: Option<String>,
    pub pod_annotations: BTreeMap<String, String>,
    pub pod_labels: BTreeMap<String, String>,
    pub image_pull_secrets: Vec<LocalObjectReference>,
    pub image_pull_policy: Option<String>,
    /// `debug`, `info`, `warn` or `error` (the agent's `--log-level`).
    pub log_level: String,
    /// `json` or `human` (the agent's `--log-format`).
    pub log_format: String,
    /// Seconds between drains of the kernel maps (`--drain-interval`).
    pub drain_interval_seconds: u32,
    /// Port of the agent's /metrics, /healthz and /readyz.
    pub metrics_port: u16,
}

impl Default for NodeAgentSettings {
    fn default() -> Self {
        Self {
            resources: None,
            node_selector: BTreeMap::new(),
            tolerations: vec![Toleration {
                operator: Some("Exists".into()),
                ..Default::default()
            }],
            priority_class_name: None,
            pod_annotations: BTreeMap::new(),
            pod_labels: BTreeMap::new(),
            image_pull_secrets: Vec::new(),
            image_pull_policy: None,
            log_level: "info".into(),
            log_format: "json".into(),
            drain_interval_seconds: 4,
            metrics_port: 9464,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "--node-agent-settings is not valid: {0}; expected JSON such as \
         {{\"logLevel\":\"info\",\"drainIntervalSeconds\":5}} (the chart renders it from nodeAgent.* values)"
    )]
    Json(#[from] serde_json::Error),
    #[error("--node-agent-settings: logLevel {0:?} is not one of debug, info, warn, error")]
    LogLevel(String),
    #[error("--node-agent-settings: logFormat {0:?} is not one of json, human")]
    LogFormat(String),
    #[error("--node-agent-settings: drainIntervalSeconds must be between 1 and 3600, not {0}")]
    DrainInterval(u32),
    #[error("--node-agent-settings: metricsPort must not be 0")]
    MetricsPort,
}

impl NodeAgentSettings {
    /// Parses and checks the flag's JSON; an empty string means defaults.
    pub fn parse(json: &str) -> Result<Self, SettingsError> {
        let settings: Self = if json.trim().is_empty() {
            Self::default()
        } else {
            serde_json::from_str(json)?
        };
        // The agent's own flag values decide what is valid, so the two
        // cannot drift; `auto` is left out because a pod has no terminal.
        if LogLevel::from_str(&settings.log_level, false).is_err() {
            return Err(SettingsError::LogLevel(settings.log_level));
        }
        if !matches!(
            LogFormat::from_str(&settings.log_format, false),
            Ok(LogFormat::Json | LogFormat::Human)
        ) {
            return Err(SettingsError::LogFormat(settings.log_format));
        }
        if !(1..=3600).contains(&settings.drain_interval_seconds) {
            return Err(SettingsError::DrainInterval(
                settings.drain_interval_seconds,
            ));
        }
        if settings.metrics_port == 0 {
            return Err(SettingsError::MetricsPort);
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_defaults_and_partial_json_fills_the_rest() {
        assert_eq!(
            NodeAgentSettings::parse("").unwrap(),
            NodeAgentSettings::default()
        );
        let settings =
            NodeAgentSettings::parse(r#"{"logLevel":"debug","nodeSelector":{"a":"b"}}"#).unwrap();
        assert_eq!(settings.log_level, "debug");
        assert_eq!(settings.node_selector["a"], "b");
        assert_eq!(settings.drain_interval_seconds, 4);
    }

    #[test]
    fn bad_settings_name_the_field() {
        let error = |json: &str| NodeAgentSettings::parse(json).unwrap_err().to_string();
        assert!(error(r#"{"logLevel":"loud"}"#).contains("logLevel \"loud\""));
        assert!(error(r#"{"logFormat":"auto"}"#).contains("logFormat \"auto\""));
        assert!(error(r#"{"drainIntervalSeconds":0}"#).contains("drainIntervalSeconds"));
        assert!(error(r#"{"nodeSelectr":{}}"#).contains("unknown field `nodeSelectr`"));
        assert!(error("{").contains("expected JSON"));
    }
}
