//! The colonies this agent reports to: the one its flags name
//! (`--colony-endpoint`), or every colony in a colonies file
//! (`--colonies-file`), which is re-read when it changes so that Colonies
//! come and go without restarting agents.

use std::path::{Path, PathBuf};

use coral_config::{AgentColoniesError, AgentColoniesFile};

use crate::config::{Config, ConfigError, Mode};

/// One colony and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColonyTarget {
    /// `namespace/name`; empty for an unnamed colony given by flags.
    pub colony: String,
    pub endpoint: String,
    pub enrollment_token: String,
    /// The TUN device of this colony's tunnel.
    pub interface: String,
}

impl ColonyTarget {
    /// How logs and metrics name the colony.
    pub fn label(&self) -> &str {
        if self.colony.is_empty() {
            &self.endpoint
        } else {
            &self.colony
        }
    }
}

pub enum TargetSource {
    Flags(ColonyTarget),
    File(PathBuf),
}

impl TargetSource {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        if let Some(path) = &config.colonies_file {
            return Ok(Self::File(path.clone()));
        }
        Ok(Self::Flags(ColonyTarget {
            colony: config.colony.clone(),
            // clap requires one of the two.
            endpoint: config.colony_endpoint.clone().unwrap_or_default(),
            enrollment_token: config.enrollment_token()?,
            interface: config.mesh_interface.clone(),
        }))
    }

    /// Whether flows go only to the colonies whose Connections select
    /// either end (else every attributed flow goes to the one colony).
    pub fn scoped_by_connections(&self, mode: Mode) -> bool {
        match self {
            Self::File(_) => true,
            Self::Flags(target) => mode == Mode::Kubernetes && !target.colony.is_empty(),
        }
    }

    /// Each colony's batch sequence is kept apart in the state directory
    /// once there can be several.
    pub fn per_colony_state(&self) -> bool {
        matches!(self, Self::File(_))
    }
}

/// The colonies file and what was last read from it.
pub struct ColoniesFileWatch {
    path: PathBuf,
    last_text: Option<String>,
    last_error: Option<String>,
}

impl ColoniesFileWatch {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            last_text: None,
            last_error: None,
        }
    }

    /// The file's colonies when its text changed since the last successful
    /// read; `Ok(None)` when unchanged. A bad file is an error and leaves the
    /// last good state in place, so the next poll reports it again only if
    /// it changed.
    pub fn poll(&mut self) -> Result<Option<Vec<ColonyTarget>>, AgentColoniesError> {
        let text =
            std::fs::read_to_string(&self.path).map_err(|source| AgentColoniesError::Read {
                path: self.path.clone(),
                source,
            })?;
        if self.last_text.as_deref() == Some(text.as_str()) {
            return Ok(None);
        }
        let file =
            AgentColoniesFile::parse(&text).map_err(|detail| AgentColoniesError::Invalid {
                path: self.path.clone(),
                detail,
            })?;
        self.last_text = Some(text);
        self.last_error = None;
        Ok(Some(targets_of(&file)))
    }

    /// Polls, logging a failure once per distinct error.
    pub fn poll_logged(&mut self) -> Option<Vec<ColonyTarget>> {
        match self.poll() {
            Ok(targets) => targets,
            Err(error) => {
                let text = error.to_string();
                if self.last_error.as_deref() != Some(text.as_str()) {
                    tracing::error!(%error, "keeping the colonies read before; fix the file (or the operator's coral-node-agent-colonies Secret)");
                    self.last_error = Some(text);
                }
                None
            }
        }
    }
}

pub fn targets_of(file: &AgentColoniesFile) -> Vec<ColonyTarget> {
    file.colonies
        .iter()
        .map(|entry| ColonyTarget {
            colony: entry.colony.clone(),
            endpoint: entry.endpoint.clone(),
            enrollment_token: entry.enrollment_token.trim().to_owned(),
            interface: interface_name(&entry.colony),
        })
        .collect()
}

/// `coral-` and 8 hex digits of the colony's FNV-1a hash: stable for a
/// colony, distinct between colonies, and within Linux's 15 characters.
pub fn interface_name(colony: &str) -> String {
    let hash = colony.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("coral-{hash:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "colonies:\n\
        - colony: shop/shop\n  endpoint: http://10.96.0.10:9000\n  enrollmentToken: t1\n  meshIPv4CIDR: 10.42.0.0/16\n\
        - colony: web/web\n  endpoint: http://10.96.0.11:9000\n  enrollmentToken: t2\n  meshIPv4CIDR: 10.43.0.0/16\n";

    #[test]
    fn interface_names_are_stable_distinct_and_short() {
        let shop = interface_name("shop/shop");
        assert_eq!(shop, interface_name("shop/shop"));
        assert_ne!(shop, interface_name("web/web"));
        assert!(shop.len() <= 15, "{shop}");
        assert!(shop.starts_with("coral-"));
    }

    #[test]
    fn file_watch_reports_changes_once_and_keeps_the_last_good_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("colonies.yaml");
        std::fs::write(&path, FILE).unwrap();
        let mut watch = ColoniesFileWatch::new(&path);
        let targets = watch.poll().unwrap().unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].colony, "shop/shop");
        assert_eq!(targets[1].enrollment_token, "t2");
        assert_eq!(targets[0].interface, interface_name("shop/shop"));
        assert_eq!(watch.poll().unwrap(), None, "unchanged");

        std::fs::write(&path, "colonies: [{colony: nope}]").unwrap();
        let error = watch.poll().unwrap_err().to_string();
        assert!(error.contains("colonies.yaml"), "{error}");
        assert_eq!(watch.poll_logged(), None);

        std::fs::write(&path, "colonies: []\n").unwrap();
        assert_eq!(watch.poll().unwrap(), Some(vec![]));
        std::fs::remove_file(&path).unwrap();
        assert!(
            watch
                .poll()
                .unwrap_err()
                .to_string()
                .contains("cannot read")
        );
    }
}
