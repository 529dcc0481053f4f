//! What can go wrong starting or talking to a mesh interface.

use std::io;
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error(
        "cannot create TUN device {name}: {source}. It needs /dev/net/tun and CAP_NET_ADMIN; \
         if the name is taken, another mesh may be running (pick another interface name)"
    )]
    Tun { name: String, source: io::Error },
    #[error(
        "cannot listen on UDP {addr}: {source}. Another process (another colony?) may hold \
         the port; choose another listen port"
    )]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("the mesh configuration is invalid: {0}")]
    Config(String),
    #[error("the mesh interface has stopped (see the error it logged)")]
    Stopped,
    #[error("the mesh interface failed: {0}")]
    Io(#[from] io::Error),
}
