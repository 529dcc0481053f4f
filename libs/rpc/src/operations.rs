//! How a server's listening address reads in its start line.

use std::net::SocketAddr;

/// `:8080` when listening on every address, else the full address.
pub fn display_listen_addr(local: SocketAddr) -> String {
    if local.ip().is_unspecified() {
        format!(":{}", local.port())
    } else {
        local.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_address_is_short_for_every_address() {
        assert_eq!(
            display_listen_addr("0.0.0.0:8080".parse().unwrap()),
            ":8080"
        );
        assert_eq!(display_listen_addr("[::]:9000".parse().unwrap()), ":9000");
        assert_eq!(
            display_listen_addr("127.0.0.1:9000".parse().unwrap()),
            "127.0.0.1:9000"
        );
    }
}
