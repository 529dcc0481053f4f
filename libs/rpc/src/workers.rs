//! Connection threads: each runs a single-threaded tokio runtime and serves
//! the connections handed to it round-robin. A connection's HTTP/2 streams
//! are spawned on the runtime driving it, so a request never wakes another
//! thread.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::server::ConnectionServer;

type Accepted = (std::net::TcpStream, SocketAddr);

pub(crate) struct ConnectionWorkers {
    senders: Vec<mpsc::UnboundedSender<Accepted>>,
    next: usize,
    done: Vec<oneshot::Receiver<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl ConnectionWorkers {
    /// Starts `count` threads. After shutdown starts, each gives its
    /// connections `grace` to finish, then drops them.
    pub(crate) fn start(count: usize, server: ConnectionServer, grace: Duration) -> Self {
        let mut workers = ConnectionWorkers {
            senders: Vec::new(),
            next: 0,
            done: Vec::new(),
            threads: Vec::new(),
        };
        for index in 0..count {
            let (sender, receiver) = mpsc::unbounded_channel();
            let (finished, done) = oneshot::channel();
            let server = server.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("connections-{index}"))
                .spawn(move || run(receiver, server, grace, finished));
            match spawned {
                Ok(thread) => {
                    workers.senders.push(sender);
                    workers.done.push(done);
                    workers.threads.push(thread);
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot start a connection thread; using fewer");
                }
            }
        }
        workers
    }

    /// Hands a connection to the next thread (round-robin). With no thread
    /// left, the connection is closed.
    pub(crate) fn dispatch(&mut self, stream: std::net::TcpStream, remote_addr: SocketAddr) {
        if self.senders.is_empty() {
            tracing::warn!(%remote_addr, "no connection thread is running; closing the connection");
            return;
        }
        self.next = (self.next + 1) % self.senders.len();
        if self.senders[self.next].send((stream, remote_addr)).is_err() {
            tracing::warn!(%remote_addr, "a connection thread has stopped; closing the connection");
        }
    }

    /// Stops handing out connections and waits until every thread has
    /// finished its connections.
    pub(crate) async fn finish(self) {
        drop(self.senders);
        for done in self.done {
            let _ = done.await;
        }
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

fn run(
    mut accepted: mpsc::UnboundedReceiver<Accepted>,
    server: ConnectionServer,
    grace: Duration,
    finished: oneshot::Sender<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start a connection thread's runtime");
            return;
        }
    };
    runtime.block_on(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                next = accepted.recv() => match next {
                    Some((stream, remote_addr)) => {
                        connections.spawn(server.clone().serve(stream, remote_addr));
                    }
                    None => break,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        // The server is stopping and has told the connections so.
        let drained = async { while connections.join_next().await.is_some() {} };
        let _ = tokio::time::timeout(grace, drained).await;
    });
    let _ = finished.send(());
}
