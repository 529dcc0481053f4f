//! What a mesh interface is started with, and the defaults of the Colony CRD
//! (hub 10.42.0.1/16 and fd42::1/64 on UDP 41580).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use coral_mesh_addressing::IpCidr;
use coral_mesh_addressing::{PublicKey, SecretKey};

/// UDP port of the hub (the colony).
pub const DEFAULT_PORT: u16 = 41580;
pub const DEFAULT_HUB_IPV4: Ipv4Addr = Ipv4Addr::new(10, 42, 0, 1);
pub const DEFAULT_HUB_IPV6: Ipv6Addr = Ipv6Addr::new(0xfd42, 0, 0, 0, 0, 0, 0, 1);
pub const DEFAULT_IPV4_PREFIX: u8 = 16;
pub const DEFAULT_IPV6_PREFIX: u8 = 64;
/// Room for the WireGuard header inside a 1500-byte path (as `wg-quick`).
pub const DEFAULT_MTU: u16 = 1420;
pub const DEFAULT_INTERFACE: &str = "coral0";
/// Spokes keep NAT mappings open and notice a restarted hub with this.
pub const DEFAULT_KEEPALIVE_SECS: u16 = 25;

/// One mesh member's own side: key, TUN addresses, UDP port and initial peers.
#[derive(Clone, Debug)]
pub struct MeshConfig {
    pub private_key: SecretKey,
    pub interface_name: String,
    /// Address and prefix on the TUN device; the prefix routes the whole mesh
    /// through it.
    pub ipv4: Option<(Ipv4Addr, u8)>,
    pub ipv6: Option<(Ipv6Addr, u8)>,
    /// 0 picks a free port (fine for spokes: the hub learns it by roaming).
    pub listen_port: u16,
    pub mtu: u16,
    pub peers: Vec<PeerConfig>,
}

impl MeshConfig {
    /// The colony's side with the CRD defaults.
    pub fn hub(private_key: SecretKey) -> Self {
        Self {
            private_key,
            interface_name: DEFAULT_INTERFACE.into(),
            ipv4: Some((DEFAULT_HUB_IPV4, DEFAULT_IPV4_PREFIX)),
            ipv6: Some((DEFAULT_HUB_IPV6, DEFAULT_IPV6_PREFIX)),
            listen_port: DEFAULT_PORT,
            mtu: DEFAULT_MTU,
            peers: Vec::new(),
        }
    }

    /// An agent's side with the mesh IPs the colony assigned at enrollment.
    pub fn spoke(private_key: SecretKey, ipv4: Ipv4Addr, ipv6: Option<Ipv6Addr>) -> Self {
        Self {
            private_key,
            interface_name: DEFAULT_INTERFACE.into(),
            ipv4: Some((ipv4, DEFAULT_IPV4_PREFIX)),
            ipv6: ipv6.map(|a| (a, DEFAULT_IPV6_PREFIX)),
            listen_port: 0,
            mtu: DEFAULT_MTU,
            peers: Vec::new(),
        }
    }

    pub fn with_peer(mut self, peer: PeerConfig) -> Self {
        self.peers.push(peer);
        self
    }
}

/// A peer: who it is (key), which mesh addresses it may use and receives
/// (allowed IPs), where to reach it first, and how often to keep it alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    pub public_key: PublicKey,
    pub allowed_ips: Vec<IpCidr>,
    /// Where to send first; replaced by the source of whatever it sends us.
    pub endpoint: Option<SocketAddr>,
    pub persistent_keepalive: Option<u16>,
}

impl PeerConfig {
    pub fn new(public_key: PublicKey) -> Self {
        Self {
            public_key,
            allowed_ips: Vec::new(),
            endpoint: None,
            persistent_keepalive: None,
        }
    }

    /// An enrolled agent as the hub sees it: its own mesh addresses only.
    pub fn spoke(public_key: PublicKey, ipv4: Ipv4Addr, ipv6: Option<Ipv6Addr>) -> Self {
        let mut peer = Self::new(public_key).allowed_ip(IpCidr::host(ipv4.into()));
        if let Some(v6) = ipv6 {
            peer = peer.allowed_ip(IpCidr::host(v6.into()));
        }
        peer
    }

    /// The hub as an agent sees it: the whole default mesh goes through it
    /// (it relays to other agents), kept alive every 25 s.
    pub fn hub(public_key: PublicKey, endpoint: SocketAddr) -> Self {
        let v4 = IpCidr::new(IpAddr::V4(DEFAULT_HUB_IPV4), DEFAULT_IPV4_PREFIX);
        let v6 = IpCidr::new(IpAddr::V6(DEFAULT_HUB_IPV6), DEFAULT_IPV6_PREFIX);
        Self::new(public_key)
            .allowed_ip(v4.expect("valid default prefix"))
            .allowed_ip(v6.expect("valid default prefix"))
            .endpoint(endpoint)
            .persistent_keepalive(DEFAULT_KEEPALIVE_SECS)
    }

    pub fn allowed_ip(mut self, cidr: IpCidr) -> Self {
        self.allowed_ips.push(cidr);
        self
    }

    pub fn endpoint(mut self, endpoint: SocketAddr) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    pub fn persistent_keepalive(mut self, seconds: u16) -> Self {
        self.persistent_keepalive = Some(seconds);
        self
    }
}
