//! `colony.yaml`: how the operator tells a colony what to be. The operator
//! renders it into the colony's ConfigMap from the Colony spec; `coral-colony
//! --config` reads it. One type on both sides keeps them from drifting.
//! Secrets are never in the file, only the paths where they are mounted.
//!
//! [`agent_colonies`] is the other file the operator writes: the colonies a
//! node-agent reports to.

pub mod agent_colonies;

pub use agent_colonies::{AgentColoniesError, AgentColoniesFile, AgentColony, Ipv4Cidr};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ColonyConfigFile {
    pub application: String,
    pub environment: String,
    /// Default: `<application>-<environment>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colony_id: Option<String>,
    pub connect_port: u16,
    pub storage: StorageConfig,
    pub mesh: MeshConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_endpoint: Option<String>,
    /// In Kubernetes: `namespace/name` of the Colony resource this colony
    /// serves; it then keeps the component inventory of its Connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_colony: Option<String>,
    /// `namespace/name` of the Reef this colony federates into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reef: Option<String>,
    pub dashboard: DashboardConfig,
    pub retention: RetentionConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "backend", deny_unknown_fields)]
pub enum StorageConfig {
    /// The embedded store: `colony.duckdb` in this directory.
    #[serde(rename_all = "camelCase")]
    Duckdb { data_dir: PathBuf },
    #[serde(rename_all = "camelCase")]
    Clickhouse {
        url: String,
        database: String,
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password_file: Option<PathBuf>,
        /// Where the colony keeps its own small state (WireGuard key).
        data_dir: PathBuf,
    },
}

impl StorageConfig {
    pub fn data_dir(&self) -> &Path {
        match self {
            StorageConfig::Duckdb { data_dir } | StorageConfig::Clickhouse { data_dir, .. } => {
                data_dir
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshConfig {
    pub ipv4_cidr: String,
    pub ipv6_cidr: String,
    pub listen_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_endpoint: Option<String>,
    pub private_key_file: PathBuf,
    pub enrollment_token_file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    pub enabled: bool,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionConfig {
    /// Minute rollups; older ones are folded into hourly rollups.
    pub flow_days: u32,
    #[serde(default = "default_hourly_flow_days")]
    pub hourly_flow_days: u32,
    pub event_days: u32,
}

fn default_hourly_flow_days() -> u32 {
    30
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read the colony config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the colony config file {path} is not valid: {detail}")]
    Invalid { path: PathBuf, detail: String },
}

impl ColonyConfigFile {
    pub fn load(path: &Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|detail| ConfigFileError::Invalid {
            path: path.to_owned(),
            detail,
        })
    }

    /// Parse YAML; the error names the offending field and line.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn to_yaml(&self) -> String {
        // Plain structs of strings and numbers always serialize.
        serde_yaml::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ColonyConfigFile {
        ColonyConfigFile {
            application: "shop".into(),
            environment: "prod".into(),
            colony_id: None,
            connect_port: 9000,
            storage: StorageConfig::Duckdb {
                data_dir: "/var/lib/coral".into(),
            },
            mesh: MeshConfig {
                ipv4_cidr: "10.42.0.0/16".into(),
                ipv6_cidr: "fd42::/64".into(),
                listen_port: 41580,
                public_endpoint: None,
                private_key_file: "/var/run/coral/keys/wireguard.key".into(),
                enrollment_token_file: "/var/run/coral/keys/enrollment-token".into(),
            },
            discovery_endpoint: None,
            kubernetes_colony: Some("shop/shop-prod".into()),
            reef: None,
            dashboard: DashboardConfig {
                enabled: true,
                port: 3000,
            },
            retention: RetentionConfig {
                flow_days: 7,
                hourly_flow_days: 30,
                event_days: 30,
            },
        }
    }

    #[test]
    fn round_trips_through_yaml() {
        let file = sample();
        let text = file.to_yaml();
        assert!(text.contains("backend: duckdb"), "{text}");
        assert!(text.contains("dataDir: /var/lib/coral"), "{text}");
        assert_eq!(ColonyConfigFile::parse(&text).unwrap(), file);
    }

    #[test]
    fn a_misspelt_field_is_named() {
        let text = sample().to_yaml().replace("connectPort", "connectPrt");
        let error = ColonyConfigFile::parse(&text).unwrap_err();
        assert!(error.contains("connectPrt"), "{error}");
    }
}
