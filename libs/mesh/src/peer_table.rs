//! The peers by key, by receiver index and by allowed IP (cryptokey routing:
//! an address belongs to exactly one peer, used both to pick the peer for an
//! outgoing packet and to check the source of an incoming one).

use std::collections::HashMap;
use std::net::IpAddr;

use rand_core::{OsRng, RngCore};

use crate::config::PeerConfig;
use crate::peer::Peer;
use coral_mesh_addressing::IpCidr;
use coral_mesh_addressing::{PublicKey, SecretKey};

/// boringtun keeps 24 bits of the index for the peer (it adds 8 of its own).
const INDEX_MASK: u32 = 0x00ff_ffff;

pub(crate) struct PeerTable {
    peers: HashMap<PublicKey, Peer>,
    by_index: HashMap<u32, PublicKey>,
    /// Single addresses (every agent on the hub): one hash lookup per packet.
    hosts: HashMap<IpAddr, PublicKey>,
    /// Wider blocks (the hub on an agent), longest prefix first.
    blocks: Vec<(IpCidr, PublicKey)>,
    next_index: u32,
}

impl PeerTable {
    pub fn new() -> Self {
        Self {
            peers: HashMap::new(),
            by_index: HashMap::new(),
            hosts: HashMap::new(),
            blocks: Vec::new(),
            // Random start: packets for a previous run's sessions find no peer.
            next_index: OsRng.next_u32() & INDEX_MASK,
        }
    }

    /// Adds a peer, or updates one with the same key in place (keeping its
    /// session unless the keepalive changes, which boringtun fixes at creation).
    pub fn upsert(&mut self, own_key: &SecretKey, config: PeerConfig) -> &mut Peer {
        let key = config.public_key;
        let keep = self
            .peers
            .get(&key)
            .is_some_and(|p| p.config.persistent_keepalive == config.persistent_keepalive);
        self.unroute(&key);
        if keep {
            let peer = self.peers.get_mut(&key).expect("checked above");
            if config.endpoint.is_some() {
                peer.endpoint = config.endpoint;
            }
            peer.config = config;
        } else {
            if let Some(old) = self.peers.remove(&key) {
                self.by_index.remove(&old.index);
            }
            let index = self.free_index();
            self.by_index.insert(index, key);
            self.peers.insert(key, Peer::new(own_key, config, index));
        }
        self.route(&key);
        self.peers.get_mut(&key).expect("inserted above")
    }

    pub fn remove(&mut self, key: &PublicKey) -> bool {
        let Some(peer) = self.peers.remove(key) else {
            return false;
        };
        self.by_index.remove(&peer.index);
        self.unroute(key);
        true
    }

    pub fn contains(&self, key: &PublicKey) -> bool {
        self.peers.contains_key(key)
    }

    pub fn get_mut(&mut self, key: &PublicKey) -> Option<&mut Peer> {
        self.peers.get_mut(key)
    }

    /// The peer a message with this receiver index is for.
    pub fn key_by_index(&self, receiver_index: u32) -> Option<PublicKey> {
        self.by_index.get(&(receiver_index >> 8)).copied()
    }

    /// The peer that owns `ip` (longest prefix wins).
    pub fn owner(&self, ip: IpAddr) -> Option<PublicKey> {
        if let Some(key) = self.hosts.get(&ip) {
            return Some(*key);
        }
        self.blocks
            .iter()
            .find(|(cidr, _)| cidr.contains(ip))
            .map(|(_, key)| *key)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Peer> {
        self.peers.values_mut()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }

    fn free_index(&mut self) -> u32 {
        loop {
            let index = self.next_index;
            self.next_index = (self.next_index + 1) & INDEX_MASK;
            if !self.by_index.contains_key(&index) {
                return index;
            }
        }
    }

    /// An allowed IP moves to the peer that claims it last (as in `wg set`).
    fn route(&mut self, key: &PublicKey) {
        let cidrs = self.peers[key].config.allowed_ips.clone();
        for cidr in cidrs {
            if cidr.is_host() {
                self.hosts.insert(cidr.addr(), *key);
            } else {
                self.blocks.retain(|(c, _)| *c != cidr);
                self.blocks.push((cidr, *key));
            }
        }
        self.blocks
            .sort_by_key(|(cidr, _)| std::cmp::Reverse(cidr.prefix()));
    }

    fn unroute(&mut self, key: &PublicKey) {
        self.hosts.retain(|_, owner| owner != key);
        self.blocks.retain(|(_, owner)| owner != key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn routes_by_longest_prefix_and_forgets_removed_peers() {
        let own = SecretKey::generate();
        let (hub, a, b) = (
            SecretKey::generate().public_key(),
            SecretKey::generate().public_key(),
            SecretKey::generate().public_key(),
        );
        let mut table = PeerTable::new();
        table.upsert(
            &own,
            PeerConfig::new(hub).allowed_ip("10.42.0.0/16".parse().unwrap()),
        );
        table.upsert(
            &own,
            PeerConfig::spoke(a, "10.42.0.2".parse().unwrap(), None),
        );
        table.upsert(
            &own,
            PeerConfig::new(b).allowed_ip("10.42.1.0/24".parse().unwrap()),
        );
        assert_eq!(table.owner(ip("10.42.0.2")), Some(a));
        assert_eq!(table.owner(ip("10.42.1.9")), Some(b));
        assert_eq!(table.owner(ip("10.42.9.9")), Some(hub));
        assert_eq!(table.owner(ip("10.43.0.1")), None);
        assert!(table.remove(&b));
        assert_eq!(table.owner(ip("10.42.1.9")), Some(hub));
        assert!(!table.remove(&b));
    }

    #[test]
    fn update_keeps_the_session_index_and_moves_routes() {
        let own = SecretKey::generate();
        let a = SecretKey::generate().public_key();
        let mut table = PeerTable::new();
        let index = table
            .upsert(
                &own,
                PeerConfig::spoke(a, "10.42.0.2".parse().unwrap(), None),
            )
            .index;
        let again = table.upsert(
            &own,
            PeerConfig::spoke(a, "10.42.0.3".parse().unwrap(), None),
        );
        assert_eq!(again.index, index);
        assert_eq!(table.owner(ip("10.42.0.2")), None);
        assert_eq!(table.owner(ip("10.42.0.3")), Some(a));
        assert_eq!(table.key_by_index((index << 8) | 7), Some(a));
    }
}
