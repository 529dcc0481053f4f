//! Key material `coral init` generates: a WireGuard x25519 keypair (base64,
//! as `wg genkey | tee priv | wg pubkey` print them), an enrollment token
//! for agents and the colony id suffix.

use coral_mesh::SecretKey;
use rand::RngCore;

pub struct WireguardKeypair {
    pub private_key: String,
    pub public_key: String,
}

impl std::fmt::Debug for WireguardKeypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireguardKeypair")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// A fresh keypair, the same keys the colony's mesh uses.
pub fn generate_wireguard() -> WireguardKeypair {
    let private = SecretKey::generate();
    WireguardKeypair {
        private_key: private.to_base64(),
        public_key: private.public_key().to_base64(),
    }
}

/// The public key of a base64 private key (`wg pubkey`), if it is one.
pub fn public_key_of(private_key: &str) -> Option<String> {
    let private: SecretKey = private_key.parse().ok()?;
    Some(private.public_key().to_base64())
}

/// 256 random bits for agents to enroll with; see
/// [`coral_mesh::enrollment_token`].
pub fn enrollment_token() -> String {
    coral_mesh::enrollment_token()
}

/// Six lowercase hex digits, as in `my-app-dev-a1b2c3`, so that two colonies
/// of one application and environment get different ids.
pub fn id_suffix() -> String {
    format!("{:06x}", rand::rng().next_u32() & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    #[test]
    fn keypair_is_wg_shaped_and_consistent() {
        let pair = generate_wireguard();
        assert_eq!(pair.private_key.len(), 44);
        assert_eq!(pair.public_key.len(), 44);
        assert_eq!(public_key_of(&pair.private_key).unwrap(), pair.public_key);
        assert_ne!(generate_wireguard().private_key, pair.private_key);
        assert!(!format!("{pair:?}").contains(&pair.private_key));
    }

    #[test]
    fn known_wg_vector() {
        // RFC 7748 §6.1: Alice's private key and public key.
        let private = STANDARD.encode(hex(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        let public = STANDARD.encode(hex(
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
        ));
        assert_eq!(public_key_of(&private).unwrap(), public);
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn suffix_and_token_shapes() {
        let suffix = id_suffix();
        assert_eq!(suffix.len(), 6);
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(enrollment_token().len(), 43);
        for _ in 0..200 {
            assert!(enrollment_token().starts_with(|c: char| c.is_ascii_alphanumeric()));
        }
    }
}
