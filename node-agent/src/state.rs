//! What the agent keeps across restarts in its state directory: its
//! WireGuard (x25519) key pair and, per colony, the last batch sequence
//! number it used.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use coral_mesh::SecretKey;

const KEY_FILE: &str = "wireguard.key";
const SEQUENCE_FILE: &str = "sequence";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state directory {path}: {source}; give the agent a writable --state-dir \
         (a hostPath volume in cluster, so the key survives restarts)"
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not a base64 x25519 private key ({reason}); \
         move it away to have the agent generate a new key (the node then enrolls as a new peer)"
    )]
    BadKey { path: PathBuf, reason: String },
}

/// The agent's state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
    sequence_file: String,
}

impl StateDir {
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
        Ok(Self {
            dir: dir.to_owned(),
            sequence_file: SEQUENCE_FILE.to_owned(),
        })
    }

    /// The same directory, with its own sequence counter for `colony`
    /// (`namespace/name`): each colony numbers this agent's batches apart.
    pub fn for_colony(&self, colony: &str) -> Self {
        let name: String = colony
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Self {
            dir: self.dir.clone(),
            sequence_file: format!("{SEQUENCE_FILE}.{name}"),
        }
    }

    /// Loads the node's WireGuard key (base64, as `wg genkey` prints it; the
    /// mesh uses it as is), generating and saving one (mode 0600) on first use.
    pub fn node_key(&self) -> Result<SecretKey, StateError> {
        let path = self.dir.join(KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map_err(|error| StateError::BadKey {
                path: path.clone(),
                reason: format!("{error}"),
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = SecretKey::generate();
                let text = format!("{}\n", key.to_base64());
                write_atomically(&path, text.as_bytes(), 0o600)?;
                tracing::info!(pubkey = %key.public_key(), path = %path.display(), "generated the node's WireGuard key");
                Ok(key)
            }
            Err(source) => Err(io(&path, source)),
        }
    }

    /// The last sequence number handed to a batch (0 when none yet).
    pub fn last_sequence(&self) -> Result<u64, StateError> {
        let path = self.dir.join(&self.sequence_file);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(text.trim().parse().unwrap_or_else(|_| {
                tracing::warn!(path = %path.display(), "unreadable sequence file; continuing from the colony's");
                0
            })),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(source) => Err(io(&path, source)),
        }
    }

    pub fn save_sequence(&self, sequence: u64) -> Result<(), StateError> {
        write_atomically(
            &self.dir.join(&self.sequence_file),
            format!("{sequence}\n").as_bytes(),
            0o644,
        )
    }
}

fn io(path: &Path, source: std::io::Error) -> StateError {
    StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Write a sibling temp file, then rename it over `path`.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), StateError> {
    // `name.tmp` beside `name` (not with_extension: `sequence.a_b` and
    // `sequence.c_d` would share `sequence.tmp`).
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(|source| io(&tmp, source))?;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .and_then(|()| file.write_all(contents))
        .and_then(|()| file.sync_all())
        .map_err(|source| io(&tmp, source))?;
    fs::rename(&tmp, path).map_err(|source| io(path, source))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    fn public_base64(key: &SecretKey) -> String {
        key.public_key().to_base64()
    }

    #[test]
    fn key_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("agent")).unwrap();
        let first = state.node_key().unwrap();
        let again = StateDir::open(&dir.path().join("agent"))
            .unwrap()
            .node_key()
            .unwrap();
        assert_eq!(public_base64(&first), public_base64(&again));
        assert_eq!(STANDARD.decode(public_base64(&first)).unwrap().len(), 32);
        let mode = fs::metadata(dir.path().join("agent").join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let other = StateDir::open(&dir.path().join("other")).unwrap();
        assert_ne!(
            public_base64(&other.node_key().unwrap()),
            public_base64(&first)
        );
    }

    #[test]
    fn bad_key_file_is_refused_with_advice() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(KEY_FILE), "not base64!").unwrap();
        let err = StateDir::open(dir.path()).unwrap().node_key().unwrap_err();
        assert!(err.to_string().contains("move it away"), "{err}");
    }

    #[test]
    fn sequence_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        assert_eq!(state.last_sequence().unwrap(), 0);
        state.save_sequence(42).unwrap();
        assert_eq!(state.last_sequence().unwrap(), 42);
        let shop = state.for_colony("shop/shop");
        assert_eq!(shop.last_sequence().unwrap(), 0);
        shop.save_sequence(7).unwrap();
        assert_eq!(state.last_sequence().unwrap(), 42);
        assert_eq!(state.for_colony("shop/shop").last_sequence().unwrap(), 7);
        assert!(dir.path().join("sequence.shop_shop").exists());
    }
}
