//! [`MeshInterface`]: the running mesh member (TUN device + UDP socket +
//! peers) and the handle the colony and the agent hold to manage it.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::{MeshConfig, PeerConfig};
use crate::device_loop::{Command, DeviceLoop};
use crate::error::MeshError;
use crate::stats::MeshStats;
use crate::udp::Udp;
use coral_mesh_addressing::PublicKey;

/// Owns the running interface: dropping it (or [`MeshInterface::shutdown`])
/// stops the loop and deletes the TUN device.
pub struct MeshInterface {
    handle: MeshHandle,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), MeshError>>,
    public_key: PublicKey,
    name: String,
    listen_port: u16,
}

impl MeshInterface {
    /// Creates the TUN device with the configured addresses, binds the UDP
    /// port and starts the device loop on the current tokio runtime; peers
    /// with an endpoint are sent a handshake at once. Needs CAP_NET_ADMIN.
    /// The device lives in the network namespace of the calling thread.
    pub async fn start(config: MeshConfig) -> Result<Self, MeshError> {
        check(&config)?;
        let udp = Udp::bind(config.listen_port).await?;
        let listen_port = udp.port()?;
        let tun = crate::tun::create(&config)?;
        if let Some((addr, _)) = config.ipv6 {
            crate::tun::wait_until_bindable(addr, &config.interface_name).await?;
        }
        let device = DeviceLoop::new(&config, tun, udp);
        let (commands, receiver) = mpsc::channel(64);
        let (stop, stopped) = oneshot::channel();
        let name = config.interface_name.clone();
        let span = tracing::info_span!("mesh", interface = %name);
        let task = tokio::spawn(
            async move {
                let result = device.run(receiver, stopped).await;
                if let Err(error) = &result {
                    tracing::error!(%error, "mesh interface stopped");
                }
                result
            }
            .instrument(span),
        );
        tracing::info!(interface = %name, port = listen_port, key = %config.private_key.public_key(), "mesh interface up");
        Ok(Self {
            handle: MeshHandle { commands },
            stop,
            task,
            public_key: config.private_key.public_key(),
            name,
            listen_port,
        })
    }

    pub fn public_key(&self) -> PublicKey {
        self.public_key
    }

    pub fn interface_name(&self) -> &str {
        &self.name
    }

    /// The UDP port in use (the one chosen when the config said 0).
    pub fn listen_port(&self) -> u16 {
        self.listen_port
    }

    /// A cloneable handle for tasks that manage peers (enrollment) or read
    /// counters (`/metrics`); it does not keep the interface running.
    pub fn handle(&self) -> MeshHandle {
        self.handle.clone()
    }

    /// See [`MeshHandle::add_peer`].
    pub async fn add_peer(&self, peer: PeerConfig) -> Result<(), MeshError> {
        self.handle.add_peer(peer).await
    }

    /// See [`MeshHandle::remove_peer`].
    pub async fn remove_peer(&self, key: &PublicKey) -> Result<bool, MeshError> {
        self.handle.remove_peer(key).await
    }

    /// See [`MeshHandle::stats`].
    pub async fn stats(&self) -> Result<MeshStats, MeshError> {
        self.handle.stats().await
    }

    /// Stops the loop and waits until the TUN device is gone. Returns the
    /// error the loop stopped with, if it had failed on its own.
    pub async fn shutdown(self) -> Result<(), MeshError> {
        let _ = self.stop.send(());
        self.task.await.map_err(|_| MeshError::Stopped)?
    }
}

/// Talks to a running [`MeshInterface`]; every call fails with
/// [`MeshError::Stopped`] once it has stopped.
#[derive(Clone)]
pub struct MeshHandle {
    commands: mpsc::Sender<Command>,
}

impl MeshHandle {
    /// Adds a peer, or updates the one with the same key (its session is
    /// kept). Returns once the peer is in effect; a peer with an endpoint is
    /// sent a handshake at once.
    pub async fn add_peer(&self, peer: PeerConfig) -> Result<(), MeshError> {
        self.request(|done| Command::AddPeer(peer, done)).await
    }

    /// Removes a peer; its session ends at once. False if it was not there.
    pub async fn remove_peer(&self, key: &PublicKey) -> Result<bool, MeshError> {
        self.request(|done| Command::RemovePeer(*key, done)).await
    }

    pub async fn stats(&self) -> Result<MeshStats, MeshError> {
        self.request(Command::Stats).await
    }

    async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, MeshError> {
        let (done, reply) = oneshot::channel();
        self.commands
            .send(command(done))
            .await
            .map_err(|_| MeshError::Stopped)?;
        reply.await.map_err(|_| MeshError::Stopped)
    }
}

fn check(config: &MeshConfig) -> Result<(), MeshError> {
    let bad = |what: String| Err(MeshError::Config(what));
    if config.ipv4.is_none() && config.ipv6.is_none() {
        return bad("give the interface an IPv4 or IPv6 mesh address".into());
    }
    if config.ipv4.is_some_and(|(_, p)| p > 32) || config.ipv6.is_some_and(|(_, p)| p > 128) {
        return bad("an address prefix is longer than the address".into());
    }
    if config.interface_name.is_empty() || config.interface_name.len() > 15 {
        return bad(format!(
            "interface name {:?} must be 1 to 15 characters",
            config.interface_name
        ));
    }
    if config.mtu < 1280 {
        return bad(format!(
            "MTU {} is below IPv6's minimum of 1280",
            config.mtu
        ));
    }
    Ok(())
}
