//! What the agent keeps across restarts in its state directory: its
//! WireGuard (x25519) key pair and the last batch sequence number it used.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use x25519_dalek::{PublicKey, StaticSecret};

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

/// The node's WireGuard identity, base64 as `wg` prints it.
#[derive(Clone)]
pub struct NodeKey {
    secret: StaticSecret,
}

impl NodeKey {
    pub fn public_base64(&self) -> String {
        STANDARD.encode(PublicKey::from(&self.secret).as_bytes())
    }

    /// The same key as the mesh uses it.
    pub fn mesh_key(&self) -> coral_mesh::SecretKey {
        coral_mesh::SecretKey::from(self.secret.to_bytes())
    }

    pub fn secret(&self) -> &StaticSecret {
        &self.secret
    }
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey")
            .field("public", &self.public_base64())
            .finish_non_exhaustive()
    }
}

/// The agent's state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// Loads the key pair, generating and saving one (mode 0600) on first use.
    pub fn node_key(&self) -> Result<NodeKey, StateError> {
        let path = self.dir.join(KEY_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let bad = |reason: String| StateError::BadKey {
                    path: path.clone(),
                    reason,
                };
                let bytes = STANDARD
                    .decode(text.trim())
                    .map_err(|error| bad(error.to_string()))?;
                let bytes: [u8; 32] = bytes
                    .try_into()
                    .map_err(|b: Vec<u8>| bad(format!("{} bytes, not 32", b.len())))?;
                Ok(NodeKey {
                    secret: StaticSecret::from(bytes),
                })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                let secret = StaticSecret::from(bytes);
                let text = format!("{}\n", STANDARD.encode(secret.to_bytes()));
                write_atomically(&path, text.as_bytes(), 0o600)?;
                let key = NodeKey { secret };
                tracing::info!(pubkey = %key.public_base64(), path = %path.display(), "generated the node's WireGuard key");
                Ok(key)
            }
            Err(source) => Err(io(&path, source)),
        }
    }

    /// The last sequence number handed to a batch (0 when none yet).
    pub fn last_sequence(&self) -> Result<u64, StateError> {
        let path = self.dir.join(SEQUENCE_FILE);
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
            &self.dir.join(SEQUENCE_FILE),
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
    let tmp = path.with_extension("tmp");
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
    use super::*;

    #[test]
    fn key_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(&dir.path().join("agent")).unwrap();
        let first = state.node_key().unwrap();
        let again = StateDir::open(&dir.path().join("agent"))
            .unwrap()
            .node_key()
            .unwrap();
        assert_eq!(first.public_base64(), again.public_base64());
        assert_eq!(STANDARD.decode(first.public_base64()).unwrap().len(), 32);
        let mode = fs::metadata(dir.path().join("agent").join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let other = StateDir::open(&dir.path().join("other")).unwrap();
        assert_ne!(
            other.node_key().unwrap().public_base64(),
            first.public_base64()
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
    }
}
