//! The Coral WireGuard mesh, in user space: boringtun's noise state machine
//! driven by our own tokio loop over a UDP socket and a TUN device. The colony
//! runs it as the hub (relaying agent-to-agent traffic itself), each
//! node-agent as a spoke. Unknown keys never get a session; peers roam.
//!
//! ```no_run
//! # async fn demo() -> Result<(), coral_mesh::MeshError> {
//! use coral_mesh::{MeshConfig, MeshInterface, PeerConfig, SecretKey};
//! let hub = MeshInterface::start(MeshConfig::hub(SecretKey::generate())).await?;
//! let agent_key = SecretKey::generate().public_key(); // from enrollment
//! hub.add_peer(PeerConfig::spoke(agent_key, "10.42.0.2".parse().unwrap(), None)).await?;
//! println!("{:?}", hub.stats().await?);
//! hub.shutdown().await
//! # }
//! ```

mod config;
mod device_loop;
mod error;
mod interface;
mod join;
mod peer;
mod peer_table;
mod stats;
mod tun;
mod udp;

pub use config::{
    DEFAULT_HUB_IPV4, DEFAULT_HUB_IPV6, DEFAULT_INTERFACE, DEFAULT_IPV4_PREFIX,
    DEFAULT_IPV6_PREFIX, DEFAULT_KEEPALIVE_SECS, DEFAULT_MTU, DEFAULT_PORT, MeshConfig, PeerConfig,
};
pub use error::MeshError;
pub use interface::{MeshHandle, MeshInterface};
pub use join::{ColonyJoin, resolve_endpoint, url_host};
pub use stats::{MeshStats, PeerStats};

// Addresses and keys come from the small addressing crate, so tools that
// only parse or allocate them need not link the tunnel.
pub use coral_mesh_addressing::{
    CidrError, IpCidr, KeyError, MeshIpv4Cidr, MeshIpv6Cidr, MeshNetwork, NetworkError, PublicKey,
    SecretKey, enrollment_token,
};
