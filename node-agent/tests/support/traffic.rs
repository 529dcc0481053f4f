//! A TCP server and client with known byte counts, run inside namespaces.

use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;

use anyhow::{Context, Result, bail, ensure};

use super::netns::NetnsPair;

pub struct Exchange {
    pub connections: usize,
    /// Client → server payload per connection.
    pub request_bytes: usize,
    /// Server → client payload per connection.
    pub response_bytes: usize,
    /// Connects to a port nobody listens on (refused).
    pub refused_connects: usize,
}

/// The port nobody listens on in the server namespace.
pub const CLOSED_PORT: u16 = 9;

/// Runs the exchange; returns the server's port.
pub fn run(pair: &NetnsPair, exchange: &Exchange) -> Result<u16> {
    let (port_tx, port_rx) = mpsc::channel();
    let server_addr = pair.server_addr;
    let (connections, request, response) = (
        exchange.connections,
        exchange.request_bytes,
        exchange.response_bytes,
    );
    let server = pair.server.spawn(move || {
        let listener = TcpListener::bind(SocketAddr::new(server_addr, 0))?;
        port_tx.send(listener.local_addr()?.port())?;
        let reply = vec![b's'; response];
        for _ in 0..connections {
            let (mut stream, _) = listener.accept()?;
            let mut got = Vec::new();
            stream.read_to_end(&mut got)?;
            ensure!(got.len() == request, "server read {} bytes", got.len());
            stream.write_all(&reply)?;
        }
        Ok(())
    });
    let port = port_rx.recv().context("server did not start")?;
    let refused = exchange.refused_connects;
    let client = pair.client.spawn(move || {
        let body = vec![b'c'; request];
        for _ in 0..connections {
            let mut stream = TcpStream::connect(SocketAddr::new(server_addr, port))?;
            stream.write_all(&body)?;
            stream.shutdown(Shutdown::Write)?;
            let mut got = Vec::new();
            stream.read_to_end(&mut got)?;
            ensure!(got.len() == response, "client read {} bytes", got.len());
        }
        connect_refused(server_addr, refused)
    });
    client.join().expect("client panicked")?;
    server.join().expect("server panicked")?;
    Ok(port)
}

fn connect_refused(addr: IpAddr, times: usize) -> Result<()> {
    for _ in 0..times {
        match TcpStream::connect(SocketAddr::new(addr, CLOSED_PORT)) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            other => bail!("connect to the closed port: {other:?}"),
        }
    }
    Ok(())
}
