//! The colony's WireGuard identity: its private key, from a file the user
//! (or a Kubernetes Secret) gives, else generated once into the data
//! directory so the colony keeps its public key across restarts and agents
//! and discovery keep trusting it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use coral_mesh::SecretKey;

/// File name of the generated key inside the data directory.
pub const KEY_FILE: &str = "wireguard.key";

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read the WireGuard key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the WireGuard key file {path} does not hold a key ({detail}); make one with \
         `wg genkey > {path}` or remove the file to let the colony generate one"
    )]
    Invalid { path: PathBuf, detail: String },
    #[error("cannot write a new WireGuard key to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Read the key from `given`, or from `data_dir/wireguard.key`, creating
/// that file (mode 0600) on first start.
pub fn load_or_create(given: Option<&Path>, data_dir: &Path) -> Result<SecretKey, IdentityError> {
    if let Some(path) = given {
        return read(path);
    }
    let path = data_dir.join(KEY_FILE);
    if path.exists() {
        return read(&path);
    }
    let key = SecretKey::generate();
    write_new(&path, &key)?;
    tracing::info!(path = %path.display(), public_key = %key.public_key(), "Generated the colony's WireGuard key");
    Ok(key)
}

fn read(path: &Path) -> Result<SecretKey, IdentityError> {
    let text = std::fs::read_to_string(path).map_err(|source| IdentityError::Read {
        path: path.to_owned(),
        source,
    })?;
    text.trim()
        .parse()
        .map_err(|e: coral_mesh::KeyError| IdentityError::Invalid {
            path: path.to_owned(),
            detail: e.to_string(),
        })
}

/// Write through a temporary file and rename, so a crash never leaves a
/// half-written key behind.
fn write_new(path: &Path, key: &SecretKey) -> Result<(), IdentityError> {
    let error = |source| IdentityError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(error)?;
    }
    let temporary = path.with_extension("key.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(error)?;
    writeln!(file, "{}", key.to_base64()).map_err(error)?;
    file.sync_all().map_err(error)?;
    std::fs::rename(&temporary, path).map_err(error)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn generated_once_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(None, dir.path()).unwrap();
        let second = load_or_create(None, dir.path()).unwrap();
        assert_eq!(first.public_key(), second.public_key());
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_bad_key_file_says_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        std::fs::write(&path, "not a key\n").unwrap();
        let error = load_or_create(Some(&path), dir.path())
            .unwrap_err()
            .to_string();
        assert!(error.contains("wg genkey"), "{error}");
        let missing = dir.path().join("missing.key");
        assert!(matches!(
            load_or_create(Some(&missing), dir.path()),
            Err(IdentityError::Read { .. })
        ));
    }
}
