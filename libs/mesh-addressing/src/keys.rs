//! WireGuard keys: x25519, base64 (standard alphabet, padded) exactly as
//! `wg genkey` / `wg pubkey` print them, so keys can be made with either tool.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand_core::OsRng;
use x25519_dalek as x25519;

/// Why a key string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("a WireGuard key must be base64 (as printed by `wg genkey`/`wg pubkey`): {0}")]
    NotBase64(String),
    #[error(
        "a WireGuard key is 32 bytes (44 base64 characters ending in '='); this one decodes to {0} bytes"
    )]
    WrongLength(usize),
}

fn decode(text: &str) -> Result<[u8; 32], KeyError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|e| KeyError::NotBase64(e.to_string()))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| KeyError::WrongLength(bytes.len()))
}

/// A private key. Its `Debug` never shows the key; use [`SecretKey::to_base64`]
/// only to store it.
#[derive(Clone)]
pub struct SecretKey(x25519::StaticSecret);

impl SecretKey {
    /// A fresh key from the OS random source (like `wg genkey`).
    pub fn generate() -> Self {
        Self(x25519::StaticSecret::random_from_rng(OsRng))
    }

    /// The matching public key (like `wg pubkey`).
    pub fn public_key(&self) -> PublicKey {
        PublicKey(x25519::PublicKey::from(&self.0))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.to_bytes())
    }

    /// The key as the WireGuard implementation takes it.
    pub fn x25519(&self) -> &x25519::StaticSecret {
        &self.0
    }
}

impl FromStr for SecretKey {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Self, KeyError> {
        // x25519 clamps on use, so any 32 bytes are a valid secret (as in wg).
        Ok(Self(x25519::StaticSecret::from(decode(text)?)))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public_key())
    }
}

/// A public key: the identity of a mesh member.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(x25519::PublicKey);

impl PublicKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }

    /// The key as the WireGuard implementation takes it.
    pub fn x25519(&self) -> x25519::PublicKey {
        self.0
    }
}

impl From<[u8; 32]> for PublicKey {
    fn from(bytes: [u8; 32]) -> Self {
        Self(x25519::PublicKey::from(bytes))
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(text: &str) -> Result<Self, KeyError> {
        decode(text).map(Self::from)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_base64() {
        let secret = SecretKey::generate();
        let text = secret.to_base64();
        assert_eq!(text.len(), 44);
        let parsed: SecretKey = text.parse().unwrap();
        assert_eq!(parsed.public_key(), secret.public_key());
        let public = secret.public_key().to_base64();
        assert_eq!(public.parse::<PublicKey>().unwrap(), secret.public_key());
    }

    /// The RFC 7748 §6.1 test vector (Alice), written as `wg` would print it.
    #[test]
    fn matches_wg_pubkey() {
        let secret: SecretKey = "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo="
            .parse()
            .unwrap();
        assert_eq!(
            secret.public_key().to_base64(),
            "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
        );
    }

    #[test]
    fn refuses_bad_text_with_a_reason() {
        assert!(matches!(
            "not base64!".parse::<PublicKey>(),
            Err(KeyError::NotBase64(_))
        ));
        assert_eq!(
            "AAAA".parse::<PublicKey>().unwrap_err(),
            KeyError::WrongLength(3)
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let secret = SecretKey::generate();
        assert!(!format!("{secret:?}").contains(&secret.to_base64()));
    }
}
