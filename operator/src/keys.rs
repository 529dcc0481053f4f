//! The colony's WireGuard keypair and agent enrollment token. Generated once
//! per colony; an existing Secret is always read back, never regenerated.

use std::collections::BTreeMap;

use coral_mesh_addressing::{SecretKey, enrollment_token};
use k8s_openapi::ByteString;

pub const PRIVATE_KEY: &str = "privateKey";
pub const PUBLIC_KEY: &str = "publicKey";
pub const ENROLLMENT_TOKEN: &str = "enrollmentToken";

/// Key material of one colony.
#[derive(Clone, PartialEq, Eq)]
pub struct ColonyKeys {
    /// base64 (standard) private key, as `wg genkey` prints it.
    pub private_key: String,
    /// base64 (standard) public key, as `wg pubkey` prints it.
    pub public_key: String,
    /// Token agents present to enroll with the colony.
    pub enrollment_token: String,
}

// Never print key material, not even in debug logs.
impl std::fmt::Debug for ColonyKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColonyKeys")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("key {0:?} is missing")]
    Missing(&'static str),
    #[error("key {PRIVATE_KEY:?} is not a base64 32-byte WireGuard key")]
    BadPrivateKey,
    #[error("key {PUBLIC_KEY:?} does not match {PRIVATE_KEY:?}")]
    PublicKeyMismatch,
}

impl ColonyKeys {
    /// A fresh keypair and a 256-bit token, made as the colony and the CLI
    /// make theirs.
    pub fn generate() -> Self {
        let private = SecretKey::generate();
        Self {
            private_key: private.to_base64(),
            public_key: private.public_key().to_base64(),
            enrollment_token: enrollment_token(),
        }
    }

    /// Reads keys back from a Secret's data, checking that they belong together.
    pub fn from_secret_data(data: &BTreeMap<String, ByteString>) -> Result<Self, KeyError> {
        let text = |key: &'static str| {
            data.get(key)
                .and_then(|bytes| String::from_utf8(bytes.0.clone()).ok())
                .filter(|s| !s.is_empty())
                .ok_or(KeyError::Missing(key))
        };
        let private_key = text(PRIVATE_KEY)?;
        let public_key = text(PUBLIC_KEY)?;
        let enrollment_token = text(ENROLLMENT_TOKEN)?;
        let private: SecretKey = private_key
            .trim()
            .parse()
            .map_err(|_| KeyError::BadPrivateKey)?;
        if private.public_key().to_base64() != public_key.trim() {
            return Err(KeyError::PublicKeyMismatch);
        }
        Ok(Self {
            private_key,
            public_key,
            enrollment_token,
        })
    }

    pub fn to_secret_data(&self) -> BTreeMap<String, ByteString> {
        BTreeMap::from([
            (
                PRIVATE_KEY.to_string(),
                ByteString(self.private_key.clone().into_bytes()),
            ),
            (
                PUBLIC_KEY.to_string(),
                ByteString(self.public_key.clone().into_bytes()),
            ),
            (
                ENROLLMENT_TOKEN.to_string(),
                ByteString(self.enrollment_token.clone().into_bytes()),
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_secret_data() {
        let keys = ColonyKeys::generate();
        assert!(
            keys.public_key
                .parse::<coral_mesh_addressing::PublicKey>()
                .is_ok()
        );
        assert_eq!(
            ColonyKeys::from_secret_data(&keys.to_secret_data()),
            Ok(keys.clone())
        );
        assert_ne!(ColonyKeys::generate().private_key, keys.private_key);
    }

    #[test]
    fn tampered_secret_is_rejected_with_the_key_named() {
        let keys = ColonyKeys::generate();
        let mut data = keys.to_secret_data();
        data.insert(
            PUBLIC_KEY.into(),
            ByteString(ColonyKeys::generate().public_key.into_bytes()),
        );
        assert_eq!(
            ColonyKeys::from_secret_data(&data),
            Err(KeyError::PublicKeyMismatch)
        );
        data.remove(ENROLLMENT_TOKEN);
        assert_eq!(
            ColonyKeys::from_secret_data(&data),
            Err(KeyError::Missing(ENROLLMENT_TOKEN))
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let keys = ColonyKeys::generate();
        let shown = format!("{keys:?}");
        assert!(!shown.contains(&keys.private_key) && !shown.contains(&keys.enrollment_token));
    }
}
