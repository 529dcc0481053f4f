//! Enrollment tokens: the shared secret an agent presents to join a colony.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::{OsRng, RngCore};

/// 256 random bits, URL-safe base64 (43 characters). Never starts with '-'
/// or '_', so that `--enrollment-token <token>` on a command line is not
/// read as a flag.
pub fn enrollment_token() -> String {
    loop {
        let mut token = [0u8; 32];
        OsRng.fill_bytes(&mut token);
        let text = URL_SAFE_NO_PAD.encode(token);
        if text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return text;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_never_look_like_flags() {
        let first = enrollment_token();
        assert_eq!(first.len(), 43);
        assert_ne!(enrollment_token(), first);
        for _ in 0..200 {
            assert!(enrollment_token().starts_with(|c: char| c.is_ascii_alphanumeric()));
        }
    }
}
