//! `colonies.yaml`: the colonies a node-agent reports to. In Kubernetes the
//! operator keeps it in the `coral-node-agent-colonies` Secret (it holds
//! enrollment tokens) and the DaemonSet mounts it; the agent re-reads it
//! when it changes, so Colonies come and go without restarting agents.

use std::path::{Path, PathBuf};

use coral_mesh_addressing::MeshIpv4Cidr;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentColoniesFile {
    #[serde(default)]
    pub colonies: Vec<AgentColony>,
}

/// One colony and how an agent joins it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentColony {
    /// `namespace/name` of the Colony resource; its Connections decide
    /// which flows the colony gets.
    pub colony: String,
    /// The colony's connect endpoint, where agents enroll (`http://IP:9000`).
    pub endpoint: String,
    pub enrollment_token: String,
    /// The colony's mesh network. An agent routes each colony's network
    /// through that colony's tunnel, so two colonies it joins must not overlap.
    #[serde(rename = "meshIPv4CIDR")]
    pub mesh_ipv4_cidr: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentColoniesError {
    #[error("cannot read the colonies file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the colonies file {path} is not valid: {detail}")]
    Invalid { path: PathBuf, detail: String },
}

impl AgentColoniesFile {
    pub fn load(path: &Path) -> Result<Self, AgentColoniesError> {
        let text = std::fs::read_to_string(path).map_err(|source| AgentColoniesError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|detail| AgentColoniesError::Invalid {
            path: path.to_owned(),
            detail,
        })
    }

    /// Parses and checks every entry: a `namespace/name`, an endpoint, a
    /// token, a CIDR, no colony twice and no two overlapping networks.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: Self = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let mut networks: Vec<(&str, MeshIpv4Cidr)> = Vec::new();
        for entry in &file.colonies {
            let name = &entry.colony;
            let valid_name = name
                .split_once('/')
                .is_some_and(|(ns, n)| !ns.is_empty() && !n.is_empty() && !n.contains('/'));
            if !valid_name {
                return Err(format!("colony {name:?} is not namespace/name"));
            }
            if !entry.endpoint.starts_with("http://") && !entry.endpoint.starts_with("https://") {
                return Err(format!(
                    "colony {name}: endpoint {:?} is not an http(s) URL",
                    entry.endpoint
                ));
            }
            if entry.enrollment_token.trim().is_empty() {
                return Err(format!("colony {name}: the enrollment token is empty"));
            }
            let network: MeshIpv4Cidr = entry
                .mesh_ipv4_cidr
                .parse()
                .map_err(|error| format!("colony {name}: meshIPv4CIDR: {error}"))?;
            for (other, other_network) in &networks {
                if *other == name.as_str() {
                    return Err(format!("colony {name} is listed twice"));
                }
                if network.overlaps(other_network) {
                    return Err(format!(
                        "colonies {other} and {name} have overlapping mesh networks \
                         ({other_network} and {network})"
                    ));
                }
            }
            networks.push((name, network));
        }
        Ok(file)
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("the colonies file always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(colony: &str, cidr: &str) -> AgentColony {
        AgentColony {
            colony: colony.into(),
            endpoint: "http://10.96.0.10:9000".into(),
            enrollment_token: "token".into(),
            mesh_ipv4_cidr: cidr.into(),
        }
    }

    fn parse_entries(entries: Vec<AgentColony>) -> Result<AgentColoniesFile, String> {
        AgentColoniesFile::parse(&AgentColoniesFile { colonies: entries }.to_yaml())
    }

    #[test]
    fn round_trips_with_kubernetes_style_keys() {
        let file = AgentColoniesFile {
            colonies: vec![entry("shop/shop", "10.42.0.0/16")],
        };
        let text = file.to_yaml();
        assert!(text.contains("meshIPv4CIDR: 10.42.0.0/16"), "{text}");
        assert!(text.contains("enrollmentToken: token"), "{text}");
        assert_eq!(AgentColoniesFile::parse(&text).unwrap(), file);
        assert_eq!(AgentColoniesFile::parse("{}").unwrap().colonies, vec![]);
    }

    #[test]
    fn refuses_entries_an_agent_cannot_join() {
        let err = |entries| parse_entries(entries).unwrap_err();
        assert!(err(vec![entry("shop", "10.42.0.0/16")]).contains("namespace/name"));
        assert!(err(vec![entry("a/b", "10.42.0.0")]).contains("IPv4 CIDR"));
        assert!(
            err(vec![
                entry("a/b", "10.42.0.0/16"),
                entry("a/b", "10.43.0.0/16")
            ])
            .contains("twice")
        );
        let overlap = err(vec![
            entry("a/b", "10.42.0.0/16"),
            entry("c/d", "10.42.7.0/24"),
        ]);
        assert!(overlap.contains("a/b and c/d"), "{overlap}");
        let mut no_token = entry("a/b", "10.42.0.0/16");
        no_token.enrollment_token = " ".into();
        assert!(err(vec![no_token]).contains("token"));
        let mut bad_url = entry("a/b", "10.42.0.0/16");
        bad_url.endpoint = "10.96.0.10:9000".into();
        assert!(err(vec![bad_url]).contains("http"));
        assert!(AgentColoniesFile::parse("colonies: [{colony: a/b, extra: 1}]").is_err());
    }

    #[test]
    fn overlap_is_containment_either_way() {
        let cidr = |text: &str| text.parse::<MeshIpv4Cidr>().unwrap();
        assert!(cidr("10.42.0.0/16").overlaps(&cidr("10.42.3.0/24")));
        assert!(cidr("10.42.3.0/24").overlaps(&cidr("10.42.0.0/16")));
        assert!(!cidr("10.42.0.0/16").overlaps(&cidr("10.43.0.0/16")));
        assert!(cidr("192.0.0.0/8").overlaps(&cidr("192.168.1.0/24")));
    }
}
