//! One peer's live state: its WireGuard session (boringtun `Tunn`), where it
//! is now, and what it has done.

use std::net::SocketAddr;
use std::time::Instant;

use boringtun::noise::Tunn;

use crate::config::PeerConfig;
use crate::stats::PeerStats;
use coral_mesh_addressing::SecretKey;

pub(crate) struct Peer {
    pub config: PeerConfig,
    pub tunn: Tunn,
    /// Our receiver index for this peer (the top 24 bits of every index
    /// boringtun puts in messages to us), so incoming packets find the peer.
    pub index: u32,
    /// Last authenticated source, or the configured endpoint until then.
    pub endpoint: Option<SocketAddr>,
    pub handshakes: u64,
    /// When this peer last failed to finish a handshake for good; a restart
    /// of the attempt is paced from it.
    pub expired_at: Option<Instant>,
}

impl Peer {
    pub fn new(own_key: &SecretKey, config: PeerConfig, index: u32) -> Self {
        let tunn = Tunn::new(
            own_key.x25519().clone(),
            config.public_key.x25519(),
            None,
            config.persistent_keepalive,
            index,
            None,
        );
        Self {
            endpoint: config.endpoint,
            config,
            tunn,
            index,
            handshakes: 0,
            expired_at: None,
        }
    }

    pub fn stats(&self) -> PeerStats {
        let (since_handshake, tx, rx, _, _) = self.tunn.stats();
        PeerStats {
            public_key: self.config.public_key,
            endpoint: self.endpoint,
            allowed_ips: self.config.allowed_ips.clone(),
            last_handshake_age: since_handshake,
            handshakes: self.handshakes,
            tx_bytes: tx as u64,
            rx_bytes: rx as u64,
        }
    }
}
