//! The device loop: one task owns the TUN device, the UDP socket and the peer
//! table (so there are no locks) and moves packets between them:
//! TUN → encrypt → UDP, UDP → decrypt → TUN, or on to another peer (the hub
//! relays agent-to-agent traffic in user space, without `ip_forward`).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use boringtun::noise::errors::WireGuardError;
use boringtun::noise::handshake::parse_handshake_anon;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::noise::{HandshakeInit, Packet, Tunn, TunnResult};
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;
use tun_rs::AsyncDevice;

use crate::config::{MeshConfig, PeerConfig};
use crate::error::MeshError;
use crate::peer::Peer;
use crate::peer_table::PeerTable;
use crate::stats::{Counters, MeshStats};
use crate::udp::Udp;
use coral_mesh_addressing::{PublicKey, SecretKey};

/// boringtun's timers expect to be driven about four times a second.
const TIMER_PERIOD: Duration = Duration::from_millis(250);
/// Large enough for any datagram and any packet plus WireGuard's overhead.
const BUFFER: usize = 65_536;
/// Handshake initiations per second answered before asking for cookies.
const HANDSHAKES_PER_SECOND: u64 = 1_000;
/// A peer we keep alive whose handshakes gave up (hub away > 90 s) starts
/// over after this, so it comes back without waiting for traffic.
const RETRY_AFTER_EXPIRY: Duration = Duration::from_secs(5);

/// Requests from the [`crate::MeshInterface`] handle.
pub(crate) enum Command {
    AddPeer(PeerConfig, oneshot::Sender<()>),
    RemovePeer(PublicKey, oneshot::Sender<bool>),
    Stats(oneshot::Sender<MeshStats>),
}

pub(crate) struct DeviceLoop {
    key: SecretKey,
    public_key: PublicKey,
    tun: AsyncDevice,
    udp: Udp,
    peers: PeerTable,
    /// Checks MAC1 (and cookies under load) before any expensive work.
    limiter: RateLimiter,
    counters: Counters,
}

impl DeviceLoop {
    pub fn new(config: &MeshConfig, tun: AsyncDevice, udp: Udp) -> Self {
        let key = config.private_key.clone();
        let public_key = key.public_key();
        let mut peers = PeerTable::new();
        for peer in &config.peers {
            peers.upsert(&key, peer.clone());
        }
        Self {
            limiter: RateLimiter::new(&public_key.x25519(), HANDSHAKES_PER_SECOND),
            key,
            public_key,
            tun,
            udp,
            peers,
            counters: Counters::default(),
        }
    }

    /// Runs until `stop` fires or its sender is dropped (Ok) or the TUN
    /// device fails (Err). Dropping `self` then deletes the TUN device.
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut stop: oneshot::Receiver<()>,
    ) -> Result<(), MeshError> {
        let mut from_tun = vec![0u8; BUFFER];
        let mut from_udp = vec![0u8; BUFFER];
        let mut out = vec![0u8; BUFFER];
        let mut relay = vec![0u8; BUFFER];
        // Don't wait for peers to call: a restarted hub brings agents back
        // in one round trip instead of their 15 s handshake timeout.
        for peer in self.peers.iter_mut() {
            initiate_handshake(peer, &self.udp, &mut out).await;
        }
        let mut timers = tokio::time::interval(TIMER_PERIOD);
        timers.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                received = self.tun.recv(&mut from_tun) => {
                    let n = received?;
                    self.outgoing(&from_tun[..n], &mut out).await;
                }
                received = self.udp.recv_from(&mut from_udp) => match received {
                    Ok((n, from)) => self.incoming(&from_udp[..n], from, &mut out, &mut relay).await,
                    Err(error) => tracing::debug!(%error, "UDP receive failed"),
                },
                _ = timers.tick() => self.update_timers(&mut out).await,
                Some(command) = commands.recv() => self.command(command, &mut out).await,
                _ = &mut stop => return Ok(()),
            }
        }
    }

    /// A packet the kernel routed into the mesh: encrypt it for the peer that
    /// owns its destination.
    async fn outgoing(&mut self, packet: &[u8], out: &mut [u8]) {
        let Some(destination) = Tunn::dst_address(packet) else {
            return;
        };
        match self.peers.owner(destination) {
            Some(key) => self.send_to_peer(key, packet, out).await,
            None => self.counters.dropped_no_route += 1,
        }
    }

    async fn send_to_peer(&mut self, key: PublicKey, packet: &[u8], out: &mut [u8]) {
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        // Without a session boringtun queues the packet and returns a
        // handshake initiation instead.
        match peer.tunn.encapsulate(packet, out) {
            TunnResult::WriteToNetwork(datagram) => match peer.endpoint {
                Some(endpoint) => self.udp.send_to(datagram, endpoint).await,
                None => {
                    tracing::trace!(peer = %key, "no endpoint yet; waiting for the peer to call")
                }
            },
            TunnResult::Err(error) => tracing::debug!(peer = %key, ?error, "encapsulate failed"),
            _ => {}
        }
    }

    /// A datagram from the network: find its peer, decrypt, deliver.
    async fn incoming(
        &mut self,
        datagram: &[u8],
        from: SocketAddr,
        out: &mut [u8],
        relay: &mut [u8],
    ) {
        let packet = match self.limiter.verify_packet(Some(from.ip()), datagram, out) {
            Ok(packet) => packet,
            Err(TunnResult::WriteToNetwork(cookie)) => {
                self.udp.send_to(cookie, from).await;
                return;
            }
            // Not WireGuard, or not meant for our key.
            Err(_) => return,
        };
        let is_handshake = matches!(
            packet,
            Packet::HandshakeInit(_) | Packet::HandshakeResponse(_)
        );
        let key = match &packet {
            Packet::HandshakeInit(init) => self.known_initiator(init, from),
            Packet::HandshakeResponse(p) => self.peers.key_by_index(p.receiver_idx),
            Packet::PacketCookieReply(p) => self.peers.key_by_index(p.receiver_idx),
            Packet::PacketData(p) => self.peers.key_by_index(p.receiver_idx),
        };
        let Some(key) = key else {
            return;
        };
        let Some(peer) = self.peers.get_mut(&key) else {
            return;
        };
        let result = peer.tunn.decapsulate(Some(from.ip()), datagram, out);
        if let TunnResult::Err(error) = &result {
            tracing::debug!(peer = %key, %from, ?error, "dropped a datagram");
            return;
        }
        // It authenticated, so the peer is wherever it came from (roaming).
        if peer.endpoint != Some(from) {
            tracing::info!(peer = %key, endpoint = %from, "peer endpoint");
            peer.endpoint = Some(from);
        }
        if is_handshake {
            peer.handshakes += 1;
            self.counters.handshakes_completed += 1;
            tracing::debug!(peer = %key, "handshake completed");
        }
        match result {
            TunnResult::WriteToNetwork(reply) => {
                self.udp.send_to(reply, from).await;
                // Packets queued while there was no session go out now, one
                // per call with an empty datagram.
                while let TunnResult::WriteToNetwork(queued) = peer.tunn.decapsulate(None, &[], out)
                {
                    self.udp.send_to(queued, from).await;
                }
            }
            TunnResult::WriteToTunnelV4(inner, source) => {
                self.deliver(key, inner, source.into(), relay).await
            }
            TunnResult::WriteToTunnelV6(inner, source) => {
                self.deliver(key, inner, source.into(), relay).await
            }
            _ => {}
        }
    }

    /// The static key inside a handshake initiation, if it is a peer's.
    /// Unknown keys are refused here, before any session exists.
    fn known_initiator(&mut self, init: &HandshakeInit, from: SocketAddr) -> Option<PublicKey> {
        let half = parse_handshake_anon(self.key.x25519(), &self.public_key.x25519(), init).ok()?;
        let key = PublicKey::from(half.peer_static_public);
        if self.peers.contains(&key) {
            return Some(key);
        }
        self.counters.handshakes_rejected += 1;
        tracing::warn!(peer = %key, %from, "rejected a handshake from a key that is not enrolled");
        None
    }

    /// A decrypted packet: to the kernel, or on to the peer that owns its
    /// destination.
    async fn deliver(
        &mut self,
        sender: PublicKey,
        packet: &[u8],
        source: IpAddr,
        relay: &mut [u8],
    ) {
        // Cryptokey routing: a peer may only use its own allowed IPs.
        if self.peers.owner(source) != Some(sender) {
            self.counters.dropped_bad_source += 1;
            tracing::debug!(peer = %sender, %source, "dropped a packet from an address the peer does not own");
            return;
        }
        match Tunn::dst_address(packet).and_then(|d| self.peers.owner(d)) {
            Some(receiver) if receiver != sender => {
                self.counters.relayed_packets += 1;
                self.send_to_peer(receiver, packet, relay).await;
            }
            _ => {
                if let Err(error) = self.tun.send(packet).await {
                    tracing::debug!(%error, "TUN write failed");
                }
            }
        }
    }

    /// Keepalives, handshake retries and rekeys, as boringtun's timers decide.
    async fn update_timers(&mut self, out: &mut [u8]) {
        self.limiter.reset_count();
        for peer in self.peers.iter_mut() {
            match peer.tunn.update_timers(out) {
                TunnResult::WriteToNetwork(datagram) => {
                    if let Some(endpoint) = peer.endpoint {
                        self.udp.send_to(datagram, endpoint).await;
                    }
                }
                TunnResult::Err(WireGuardError::ConnectionExpired) => {
                    // boringtun stops trying after 90 s; peers we keep alive
                    // (the hub, on an agent) should not stay down for good.
                    if peer.config.persistent_keepalive.is_none() || peer.endpoint.is_none() {
                        continue;
                    }
                    let since = *peer.expired_at.get_or_insert_with(Instant::now);
                    if since.elapsed() >= RETRY_AFTER_EXPIRY {
                        peer.expired_at = None;
                        initiate_handshake(peer, &self.udp, out).await;
                    }
                }
                TunnResult::Err(error) => tracing::trace!(?error, "timer"),
                _ => {}
            }
        }
    }

    async fn command(&mut self, command: Command, out: &mut [u8]) {
        match command {
            Command::AddPeer(config, done) => {
                let peer = self.peers.upsert(&self.key, config);
                tracing::info!(peer = %peer.config.public_key, "peer added");
                if peer.tunn.time_since_last_handshake().is_none() {
                    initiate_handshake(peer, &self.udp, out).await;
                }
                let _ = done.send(());
            }
            Command::RemovePeer(key, done) => {
                let removed = self.peers.remove(&key);
                if removed {
                    tracing::info!(peer = %key, "peer removed");
                }
                let _ = done.send(removed);
            }
            Command::Stats(reply) => {
                let peers = self.peers.iter().map(Peer::stats).collect();
                let _ = reply.send(self.counters.snapshot(peers));
            }
        }
    }
}

/// Starts a handshake with a peer we know how to reach.
async fn initiate_handshake(peer: &mut Peer, udp: &Udp, out: &mut [u8]) {
    let Some(endpoint) = peer.endpoint else {
        return;
    };
    if let TunnResult::WriteToNetwork(init) = peer.tunn.format_handshake_initiation(out, false) {
        udp.send_to(init, endpoint).await;
    }
}
