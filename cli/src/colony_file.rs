//! `~/.coral/colonies/<colony-id>.yaml`, written by `coral init` and read
//! by every local command, and `~/.coral/config.yaml` (the current colony).
//! Field names are the ones users look up when troubleshooting a colony
//! (`wireguard.mesh_ipv4`, `services.connect_port`): keep them stable.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::CliError;
use crate::home::CoralHome;

pub const DEFAULT_CONNECT_PORT: u16 = 9000;
pub const DEFAULT_WIREGUARD_PORT: u16 = 41580;
pub const DEFAULT_DISCOVERY: &str = "http://localhost:8080";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColonyFile {
    pub colony_id: String,
    pub application: String,
    pub environment: String,
    /// RFC 3339 time of `coral init`.
    pub created_at: String,
    pub wireguard: WireguardSection,
    pub services: ServicesSection,
    pub discovery: DiscoverySection,
    /// Token agents present to enroll (`coral connect` reads it from here).
    pub enrollment_token: String,
    #[serde(default)]
    pub retention_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireguardSection {
    /// base64, as `wg genkey` prints it.
    pub private_key: String,
    /// base64, as `wg pubkey` prints it.
    pub public_key: String,
    #[serde(default = "default_wireguard_port")]
    pub port: u16,
    #[serde(default = "default_mesh_ipv4")]
    pub mesh_ipv4: String,
    #[serde(default = "default_mesh_ipv6")]
    pub mesh_ipv6: String,
    #[serde(default = "default_mesh_network")]
    pub mesh_network_ipv4: String,
    /// Endpoint advertised to agents; `CORAL_PUBLIC_ENDPOINT` overrides it.
    #[serde(default)]
    pub public_endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServicesSection {
    #[serde(default = "default_connect_port")]
    pub connect_port: u16,
    /// Address the connect port listens on.
    #[serde(default = "default_bind")]
    pub bind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoverySection {
    #[serde(default = "default_discovery")]
    pub endpoint: String,
}

fn default_wireguard_port() -> u16 {
    DEFAULT_WIREGUARD_PORT
}
fn default_mesh_ipv4() -> String {
    "10.42.0.1".into()
}
fn default_mesh_ipv6() -> String {
    "fd42::1".into()
}
fn default_mesh_network() -> String {
    "10.42.0.0/16".into()
}
fn default_connect_port() -> u16 {
    DEFAULT_CONNECT_PORT
}
fn default_bind() -> String {
    "0.0.0.0".into()
}
fn default_discovery() -> String {
    DEFAULT_DISCOVERY.into()
}

impl ColonyFile {
    /// Where the colony's connect port answers from this machine.
    pub fn local_url(&self) -> String {
        let host = match self.services.bind.as_str() {
            "0.0.0.0" | "::" | "" => "127.0.0.1",
            other => other,
        };
        if host.contains(':') {
            format!("http://[{host}]:{}", self.services.connect_port)
        } else {
            format!("http://{host}:{}", self.services.connect_port)
        }
    }

    pub fn load(home: &CoralHome, id: &str) -> Result<ColonyFile, CliError> {
        let path = home.colony_file(id);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let known = list_ids(home)?;
                return Err(if known.is_empty() {
                    CliError::NoColonies
                } else {
                    CliError::ColonyNotFound {
                        id: id.to_owned(),
                        known: known.join(", "),
                    }
                });
            }
            Err(error) => {
                return Err(CliError::BadConfig {
                    path,
                    reason: error.to_string(),
                });
            }
        };
        let file: ColonyFile =
            serde_yaml::from_str(&text).map_err(|error| CliError::BadConfig {
                path: path.clone(),
                reason: error.to_string(),
            })?;
        if file.colony_id != id {
            return Err(CliError::BadConfig {
                path,
                reason: format!("it holds colony_id {:?}", file.colony_id),
            });
        }
        Ok(file)
    }

    /// Writes the file with mode 0600 (it holds the private key and token).
    pub fn save(&self, home: &CoralHome) -> Result<(), CliError> {
        let dir = home.colonies_dir();
        create_private_dir(home.root())?;
        create_private_dir(&dir)?;
        let path = home.colony_file(&self.colony_id);
        let text = serde_yaml::to_string(self).map_err(|e| CliError::Io(e.to_string()))?;
        let text = format!(
            "# Coral colony {} (written by `coral init`; holds secrets, keep it 0600)\n{text}",
            self.colony_id
        );
        write_private(&path, &text)
    }
}

fn create_private_dir(dir: &Path) -> Result<(), CliError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|source| CliError::Write {
        path: dir.to_owned(),
        source,
    })?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|source| {
        CliError::Write {
            path: dir.to_owned(),
            source,
        }
    })
}

/// Write `text` to `path` created with mode 0600 (replacing it atomically).
pub fn write_private(path: &Path, text: &str) -> Result<(), CliError> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|source| CliError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Ids of every colony file, sorted.
pub fn list_ids(home: &CoralHome) -> Result<Vec<String>, CliError> {
    let dir = home.colonies_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(CliError::Io(format!(
                "cannot list {}: {error}",
                dir.display()
            )));
        }
    };
    let mut ids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_suffix(".yaml").map(str::to_owned)
        })
        .collect();
    ids.sort();
    Ok(ids)
}

/// `~/.coral/config.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CliConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_colony: Option<String>,
}

impl CliConfig {
    pub fn load(home: &CoralHome) -> Result<CliConfig, CliError> {
        let path = home.config_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_yaml::from_str::<Option<CliConfig>>(&text)
                .map(Option::unwrap_or_default)
                .map_err(|error| CliError::BadConfig {
                    path,
                    reason: error.to_string(),
                }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(CliConfig::default()),
            Err(error) => Err(CliError::BadConfig {
                path,
                reason: error.to_string(),
            }),
        }
    }

    pub fn save(&self, home: &CoralHome) -> Result<(), CliError> {
        create_private_dir(home.root())?;
        let text = serde_yaml::to_string(self).map_err(|e| CliError::Io(e.to_string()))?;
        write_private(&home.config_file(), &text)
    }
}

/// The colony a command works on: `--colony` (or `CORAL_COLONY`), else the
/// current colony, else the only one.
pub fn resolve(home: &CoralHome, explicit: Option<&str>) -> Result<ColonyFile, CliError> {
    if let Some(id) = explicit {
        return ColonyFile::load(home, id);
    }
    if let Some(id) = CliConfig::load(home)?.current_colony {
        return ColonyFile::load(home, &id);
    }
    let ids = list_ids(home)?;
    match ids.as_slice() {
        [] => Err(CliError::NoColonies),
        [only] => ColonyFile::load(home, only),
        _ => Err(CliError::NoCurrentColony),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ColonyFile {
        ColonyFile {
            colony_id: "my-app-dev-a1b2c3".into(),
            application: "my-app".into(),
            environment: "dev".into(),
            created_at: "2025-10-29T20:50:00Z".into(),
            wireguard: WireguardSection {
                private_key: "k".into(),
                public_key: "p".into(),
                port: 41580,
                mesh_ipv4: default_mesh_ipv4(),
                mesh_ipv6: default_mesh_ipv6(),
                mesh_network_ipv4: default_mesh_network(),
                public_endpoint: None,
            },
            services: ServicesSection {
                connect_port: 9000,
                bind: default_bind(),
            },
            discovery: DiscoverySection {
                endpoint: default_discovery(),
            },
            enrollment_token: "t".into(),
            retention_days: None,
        }
    }

    #[test]
    fn round_trips_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let home = CoralHome::at(dir.path().join(".coral"));
        let file = sample();
        file.save(&home).unwrap();
        let path = home.colony_file(&file.colony_id);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(ColonyFile::load(&home, &file.colony_id).unwrap(), file);
        assert_eq!(list_ids(&home).unwrap(), vec![file.colony_id.clone()]);
        assert_eq!(resolve(&home, None).unwrap(), file);
    }

    #[test]
    fn missing_colony_names_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let home = CoralHome::at(dir.path().to_owned());
        assert!(matches!(
            ColonyFile::load(&home, "x"),
            Err(CliError::NoColonies)
        ));
        sample().save(&home).unwrap();
        let error = ColonyFile::load(&home, "x").unwrap_err().to_string();
        assert!(error.contains("colony not found: x"), "{error}");
        assert!(error.contains("my-app-dev-a1b2c3"), "{error}");
    }

    #[test]
    fn the_local_url_reaches_a_wildcard_bind_on_loopback() {
        let url = sample().local_url();
        assert_eq!(url, "http://127.0.0.1:9000");
    }
}
