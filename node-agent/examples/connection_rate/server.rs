//! The benchmark's servers: accept and close at once, so the server closes
//! first and TIME_WAIT stays on its side (the client's ephemeral ports are
//! not exhausted).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};

use crate::netns::Netns;

pub struct Server {
    stop: Arc<AtomicBool>,
    /// Where a last connection wakes the blocked accept.
    wake: SocketAddr,
    /// The namespace that wake connection comes from.
    wake_from: String,
    thread: std::thread::JoinHandle<Result<()>>,
}

impl Server {
    /// Listens on `addr` in `ns` until stopped; `wake` is an address of the
    /// listener that `client_ns` reaches.
    pub fn start(
        ns: &Netns,
        addr: SocketAddr,
        client_ns: &Netns,
        wake: SocketAddr,
    ) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stopping = stop.clone();
        let thread = ns.spawn(move || {
            let listener = TcpListener::bind(addr)?;
            ready_tx.send(())?;
            while !stopping.load(Ordering::Relaxed) {
                drop(listener.accept()?);
            }
            Ok(())
        });
        ready_rx
            .recv()
            .with_context(|| format!("server on {addr} did not start"))?;
        Ok(Self {
            stop,
            wake,
            wake_from: client_ns.name.clone(),
            thread,
        })
    }

    pub fn stop(self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let wake = self.wake;
        Netns {
            name: self.wake_from,
        }
        .spawn(move || {
            let _wake = TcpStream::connect(wake);
            Ok(())
        })
        .join()
        .expect("client panicked")?;
        self.thread.join().expect("server panicked")
    }
}
