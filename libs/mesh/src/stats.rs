//! Counters for `/metrics` and tests: a snapshot taken by the device loop.

use std::net::SocketAddr;
use std::time::Duration;

use coral_mesh_addressing::IpCidr;
use coral_mesh_addressing::PublicKey;

/// Totals since the interface started.
#[derive(Clone, Debug, Default)]
pub struct MeshStats {
    /// Handshakes finished with a known peer (either side initiating).
    pub handshakes_completed: u64,
    /// Handshake initiations from a static key that is not a peer.
    pub handshakes_rejected: u64,
    /// Packets from the TUN device for an address no peer is allowed.
    pub dropped_no_route: u64,
    /// Decrypted packets whose source address the sender may not use.
    pub dropped_bad_source: u64,
    /// Peer-to-peer packets forwarded in user space (on the hub).
    pub relayed_packets: u64,
    pub peers: Vec<PeerStats>,
}

impl MeshStats {
    pub fn peer(&self, key: &PublicKey) -> Option<&PeerStats> {
        self.peers.iter().find(|p| &p.public_key == key)
    }
}

#[derive(Clone, Debug)]
pub struct PeerStats {
    pub public_key: PublicKey,
    pub endpoint: Option<SocketAddr>,
    pub allowed_ips: Vec<IpCidr>,
    /// Age of the current session; `None` while there is none.
    pub last_handshake_age: Option<Duration>,
    pub handshakes: u64,
    /// IP bytes sent into / received out of the tunnel (before encryption).
    pub tx_bytes: u64,
    pub rx_bytes: u64,
}

/// The interface-wide counters the loop keeps.
#[derive(Default)]
pub(crate) struct Counters {
    pub handshakes_completed: u64,
    pub handshakes_rejected: u64,
    pub dropped_no_route: u64,
    pub dropped_bad_source: u64,
    pub relayed_packets: u64,
}

impl Counters {
    pub fn snapshot(&self, peers: Vec<PeerStats>) -> MeshStats {
        MeshStats {
            handshakes_completed: self.handshakes_completed,
            handshakes_rejected: self.handshakes_rejected,
            dropped_no_route: self.dropped_no_route,
            dropped_bad_source: self.dropped_bad_source,
            relayed_packets: self.relayed_packets,
            peers,
        }
    }
}
