//! The UDP socket WireGuard messages travel on: dual-stack where the host has
//! IPv6, so agents can reach the hub over either family.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::UdpSocket;

use crate::error::MeshError;

pub(crate) struct Udp {
    socket: UdpSocket,
    dual_stack: bool,
}

impl Udp {
    pub async fn bind(port: u16) -> Result<Self, MeshError> {
        let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
        if let Ok(socket) = UdpSocket::bind(v6).await {
            return Ok(Self {
                socket,
                dual_stack: true,
            });
        }
        // No IPv6 on this host (or it is disabled): IPv4 only.
        let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
        let socket = UdpSocket::bind(v4)
            .await
            .map_err(|source| MeshError::Bind { addr: v4, source })?;
        Ok(Self {
            socket,
            dual_stack: false,
        })
    }

    pub fn port(&self) -> std::io::Result<u16> {
        Ok(self.socket.local_addr()?.port())
    }

    /// Receives one datagram; the source comes back as plain IPv4 when it was
    /// an IPv4-mapped address, so endpoints read as users wrote them.
    pub async fn recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        let (n, from) = self.socket.recv_from(buf).await?;
        Ok((n, SocketAddr::new(from.ip().to_canonical(), from.port())))
    }

    /// Sends one datagram; errors (unreachable networks…) are only logged:
    /// WireGuard retries by itself.
    pub async fn send_to(&self, datagram: &[u8], to: SocketAddr) {
        let to = match to {
            SocketAddr::V4(v4) if self.dual_stack => {
                SocketAddr::from((v4.ip().to_ipv6_mapped(), v4.port()))
            }
            other => other,
        };
        if let Err(error) = self.socket.send_to(datagram, to).await {
            tracing::debug!(%to, %error, "UDP send failed");
        }
    }
}
