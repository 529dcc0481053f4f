//! The local API server listens on 127.0.0.1 of the host, which a process
//! in the colony's network namespace cannot reach. A relay listens on the
//! same address and port inside that namespace and forwards each connection
//! to the host's, so the colony uses the cluster's kubeconfig unchanged
//! (same URL, same certificate), as a pod uses its in-cluster address.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};

pub struct ApiServerRelay {
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

impl ApiServerRelay {
    /// Relays the loopback port of the server in `kubeconfig` into `netns`.
    pub fn start(netns: &str, kubeconfig: &Path) -> Result<Self> {
        let port = loopback_port(kubeconfig)?;
        let listener = coral_e2e::spawn_in_netns(netns, move || {
            TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                .with_context(|| format!("listening on 127.0.0.1:{port} in the colony's namespace"))
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the relay's namespace thread panicked"))??;
        // Polled, so that dropping the relay can stop it.
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let accepting = {
            let stop = stop.clone();
            std::thread::spawn(move || accept_loop(&listener, port, &stop))
        };
        Ok(Self {
            stop,
            accepting: Some(accepting),
        })
    }
}

impl Drop for ApiServerRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, port: u16, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((inside, _)) => {
                // This thread never left the host's namespace, so the
                // connection it opens reaches the host's loopback.
                match TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
                    Ok(outside) => forward(inside, outside),
                    Err(error) => eprintln!("coral-demo: API server relay: {error}"),
                }
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(error) => {
                eprintln!("coral-demo: API server relay stopped: {error}");
                return;
            }
        }
    }
}

/// Copies both ways on two threads; each ends when its side closes.
fn forward(inside: TcpStream, outside: TcpStream) {
    let _ = inside.set_nonblocking(false);
    let (Ok(mut inside_read), Ok(mut outside_read)) = (inside.try_clone(), outside.try_clone())
    else {
        return;
    };
    let (mut inside_write, mut outside_write) = (inside, outside);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut inside_read, &mut outside_write);
        let _ = outside_write.shutdown(std::net::Shutdown::Write);
    });
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut outside_read, &mut inside_write);
        let _ = inside_write.shutdown(std::net::Shutdown::Write);
    });
}

/// The port of the kubeconfig's server, which must be on 127.0.0.1.
fn loopback_port(kubeconfig: &Path) -> Result<u16> {
    let config = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let server = config
        .clusters
        .first()
        .and_then(|named| named.cluster.as_ref()?.server.clone())
        .with_context(|| format!("{} names no cluster server", kubeconfig.display()))?;
    let Some(port) = server
        .strip_prefix("https://127.0.0.1:")
        .and_then(|rest| rest.trim_end_matches('/').parse().ok())
    else {
        bail!("the demo needs the local cluster (server https://127.0.0.1:PORT), not {server}");
    };
    Ok(port)
}
