//! Accept loop: HTTP/1.1 and cleartext HTTP/2 (h2c) on one listener, the
//! peer address attached to every request, graceful shutdown, and
//! optionally one single-threaded runtime per core for the connections.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::transport::server::TcpConnectInfo;
use tower::ServiceExt;

use crate::dispatch::ConnectService;
use crate::workers::ConnectionWorkers;

/// Connection limits and timeouts.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Slow clients must send request headers within this time (HTTP/1).
    pub header_read_timeout: Duration,
    /// Concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// How long in-flight requests may take to finish after shutdown starts.
    pub shutdown_grace: Duration,
    /// Serve connections on this many threads, each with its own
    /// single-threaded runtime, instead of on the caller's runtime. A
    /// connection and its HTTP/2 streams then stay on one thread, which
    /// saves the cross-thread wake-ups that dominate small requests. 0: the
    /// caller's runtime.
    pub connection_threads: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            max_concurrent_streams: 1024,
            shutdown_grace: Duration::from_secs(10),
            connection_threads: 0,
        }
    }
}

/// Everything needed to serve one accepted connection; cheap to clone.
#[derive(Clone)]
pub(crate) struct ConnectionServer {
    builder: auto::Builder<TokioExecutor>,
    service: ConnectService,
    /// Turns true when shutdown starts.
    stopping: watch::Receiver<bool>,
}

impl ConnectionServer {
    /// Serves `stream` until the peer leaves or, after shutdown starts, its
    /// in-flight requests are done. Must run inside the runtime that will
    /// drive the connection (the stream registers with its reactor).
    pub(crate) async fn serve(self, stream: std::net::TcpStream, remote_addr: SocketAddr) {
        let stream = match TcpStream::from_std(stream) {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%remote_addr, %error, "cannot register the connection");
                return;
            }
        };
        let info = TcpConnectInfo {
            local_addr: stream.local_addr().ok(),
            remote_addr: Some(remote_addr),
        };
        let service = self.service;
        let per_request =
            hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
                request.extensions_mut().insert(info.clone());
                service.clone().oneshot(request)
            });
        let connection = self
            .builder
            .serve_connection(TokioIo::new(stream), per_request);
        tokio::pin!(connection);
        let mut stopping = self.stopping;
        let stop_requested = async move {
            // The guard `wait_for` returns must not live across an await.
            let _ = stopping.wait_for(|stop| *stop).await.map(|_| ());
        };
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = stop_requested => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%remote_addr, %error, "connection ended with an error");
        }
    }
}

/// Serve `service` on `listener` until `shutdown` resolves, then stop
/// accepting and give open connections `shutdown_grace` to finish.
///
/// Every request carries a [`TcpConnectInfo`] extension, so handlers read
/// the peer with `tonic::Request::remote_addr()` under both protocols.
pub async fn serve(
    listener: TcpListener,
    service: ConnectService,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(options.max_concurrent_streams)
        .keep_alive_interval(Duration::from_secs(30));
    let (stop, stopping) = watch::channel(false);
    let server = ConnectionServer {
        builder,
        service,
        stopping,
    };
    let mut workers = (options.connection_threads > 0).then(|| {
        ConnectionWorkers::start(
            options.connection_threads,
            server.clone(),
            options.shutdown_grace,
        )
    });
    let mut local = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, remote_addr) = tokio::select! {
            () = &mut shutdown => break,
            // Reap finished connections so the set does not grow.
            Some(_) = local.join_next(), if !local.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(%error, "failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%remote_addr, %error, "cannot take over the connection");
                continue;
            }
        };
        match &mut workers {
            Some(workers) => workers.dispatch(stream, remote_addr),
            None => {
                local.spawn(server.clone().serve(stream, remote_addr));
            }
        }
    }

    drop(listener);
    let _ = stop.send(true);
    let drained = async {
        while local.join_next().await.is_some() {}
        if let Some(workers) = workers {
            workers.finish().await;
        }
    };
    if tokio::time::timeout(options.shutdown_grace, drained)
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?options.shutdown_grace,
            "connections still open after the shutdown grace period; closing them"
        );
    }
}
