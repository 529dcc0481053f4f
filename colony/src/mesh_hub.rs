//! The colony's side of the WireGuard mesh: the hub every agent's tunnel
//! ends at. Enrolled agents are its peers; on start they are re-added from
//! the store, each with the endpoint it last called from when one is saved
//! (`peer_endpoints`), and the hub sends those a handshake at once, so a
//! restarted colony has its agents back within moments. The agent API is
//! served on the hub's mesh address.

use coral_mesh::{DEFAULT_IPV6_PREFIX, DEFAULT_MTU, SecretKey};
use coral_mesh::{
    MeshConfig, MeshError, MeshHandle, MeshInterface, MeshNetwork, PeerConfig, PublicKey,
};

use crate::error::ColonyError;
use crate::peer_endpoints::Endpoints;
use crate::store::AgentRecord;

/// How the hub is started.
pub struct HubSettings {
    pub key: SecretKey,
    pub interface: String,
    pub port: u16,
    pub network: MeshNetwork,
    /// Told to agents at enrollment (host:port, or ":port").
    pub advertised_endpoint: String,
}

/// What enrollment needs from the running hub; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    handle: MeshHandle,
    public_key: PublicKey,
    advertised_endpoint: String,
    network: MeshNetwork,
}

impl Hub {
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    pub fn advertised_endpoint(&self) -> &str {
        &self.advertised_endpoint
    }

    /// Lets an enrolled agent's key in, with its own mesh addresses only.
    /// Enrolling again with the same key replaces the same peer.
    pub async fn admit(&self, pubkey: &str, mesh_host: u32) -> Result<(), ColonyError> {
        let key: PublicKey = pubkey
            .parse()
            .map_err(|e| ColonyError::InvalidArgument(format!("pubkey: {e}")))?;
        self.handle
            .add_peer(peer_for(&self.network, key, mesh_host))
            .await
            .map_err(|e| ColonyError::MeshDown(e.to_string()))
    }
}

fn peer_for(network: &MeshNetwork, key: PublicKey, mesh_host: u32) -> PeerConfig {
    PeerConfig::spoke(key, network.ipv4(mesh_host), Some(network.ipv6(mesh_host)))
}

/// Creates the TUN device with the colony's mesh addresses, binds the UDP
/// port and admits every agent the store knows, at its saved endpoint.
pub async fn start(
    settings: HubSettings,
    agents: &[AgentRecord],
    endpoints: &Endpoints,
) -> Result<(MeshInterface, Hub), MeshError> {
    let network = settings.network;
    let mut peers = Vec::with_capacity(agents.len());
    for agent in agents {
        match agent.pubkey.parse::<PublicKey>() {
            Ok(key) => {
                let mut peer = peer_for(&network, key, agent.mesh_host);
                if let Some(endpoint) = endpoints.get(&agent.pubkey) {
                    peer = peer.endpoint(*endpoint);
                }
                peers.push(peer);
            }
            Err(error) => tracing::warn!(
                agent_id = %agent.agent_id,
                %error,
                "stored agent key is not a WireGuard key; that agent must enroll again"
            ),
        }
    }
    let called = peers.iter().filter(|peer| peer.endpoint.is_some()).count();
    let config = MeshConfig {
        private_key: settings.key,
        interface_name: settings.interface,
        ipv4: Some((network.colony_ipv4(), network.prefix())),
        ipv6: Some((network.colony_ipv6(), DEFAULT_IPV6_PREFIX)),
        listen_port: settings.port,
        mtu: DEFAULT_MTU,
        peers,
    };
    let interface = MeshInterface::start(config).await?;
    tracing::info!(
        interface = %interface.interface_name(),
        port = interface.listen_port(),
        mesh_ipv4 = %network.colony_ipv4(),
        mesh_ipv6 = %network.colony_ipv6(),
        known_agents = agents.len(),
        handshakes_sent = called,
        endpoint = %settings.advertised_endpoint,
        "Wireguard: mesh hub listening"
    );
    let hub = Hub {
        handle: interface.handle(),
        public_key: interface.public_key(),
        advertised_endpoint: settings.advertised_endpoint,
        network,
    };
    Ok((interface, hub))
}
