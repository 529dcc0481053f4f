//! Accept loop: HTTP/1.1 and cleartext HTTP/2 (h2c) on one listener, the
//! peer address attached to every request, graceful shutdown.

use std::future::Future;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tonic::transport::server::TcpConnectInfo;
use tower::ServiceExt;

use crate::dispatch::ConnectService;

/// Connection limits and timeouts.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Slow clients must send request headers within this time (HTTP/1).
    pub header_read_timeout: Duration,
    /// Concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// How long in-flight requests may take to finish after shutdown starts.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            max_concurrent_streams: 1024,
            shutdown_grace: Duration::from_secs(10),
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
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);

    loop {
        let (stream, remote_addr) = tokio::select! {
            () = &mut shutdown => break,
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
        let info = TcpConnectInfo {
            local_addr: stream.local_addr().ok(),
            remote_addr: Some(remote_addr),
        };
        let service = service.clone();
        let per_request =
            hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
                request.extensions_mut().insert(info.clone());
                service.clone().oneshot(request)
            });
        let connection = builder
            .serve_connection(TokioIo::new(stream), per_request)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%remote_addr, %error, "connection ended with an error");
            }
        });
    }

    drop(listener);
    if tokio::time::timeout(options.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?options.shutdown_grace,
            "connections still open after the shutdown grace period; closing them"
        );
    }
}
