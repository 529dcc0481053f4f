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

/// A server that answers every connection with `response_bytes` until
/// dropped; runs in a namespace on a fixed address.
pub struct Server {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<Result<u64>>>,
}

impl Server {
    pub fn start(
        ns: &super::netns::Netns,
        addr: SocketAddr,
        response_bytes: usize,
    ) -> Result<Self> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let flag = stop.clone();
        let handle = ns.spawn(move || {
            let listener = TcpListener::bind(addr)?;
            listener.set_nonblocking(true)?;
            ready_tx.send(())?;
            let reply = vec![b's'; response_bytes];
            let mut served = 0;
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        stream.set_nonblocking(false)?;
                        let mut got = Vec::new();
                        stream.read_to_end(&mut got)?;
                        stream.write_all(&reply)?;
                        served += 1;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(served)
        });
        ready_rx.recv().context("server did not start")?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops accepting; returns how many connections were served.
    pub fn stop(mut self) -> Result<u64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle
            .take()
            .expect("running")
            .join()
            .expect("server panicked")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One request/response connection from the calling thread's namespace.
pub fn request(addr: SocketAddr, request_bytes: usize, response_bytes: usize) -> Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.write_all(&vec![b'c'; request_bytes])?;
    stream.shutdown(Shutdown::Write)?;
    let mut got = Vec::new();
    stream.read_to_end(&mut got)?;
    ensure!(
        got.len() == response_bytes,
        "client read {} bytes",
        got.len()
    );
    Ok(())
}

/// Connects to a port nobody listens on, `times` times (each is refused).
pub fn refused(addr: IpAddr, times: usize) -> Result<()> {
    connect_refused(addr, times)
}
