//! A port of its own for the probes, for binaries whose API is not HTTP
//! (the operator, the node-agent).

use std::io;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Binding or reading back the probe port failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}")]
pub struct BindError {
    pub addr: SocketAddr,
    #[source]
    pub source: io::Error,
}

/// A probe server running in the background.
pub struct Server {
    /// Where it listens (the real port when `addr` asked for port 0).
    pub addr: SocketAddr,
    /// Ends after `shutdown` once open requests are answered.
    pub task: JoinHandle<()>,
}

/// Binds `addr` and serves `router` until `shutdown` resolves. Binding
/// happens before this returns, so a taken port fails the caller's start
/// rather than a background task.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Server, BindError> {
    let bind_error = |source| BindError { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "the health and metrics server failed");
        }
    });
    Ok(Server { addr: bound, task })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::oneshot;

    use super::*;
    use crate::{MetricsSource, ProbeBodies, Probes};

    async fn http_get(addr: SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    }

    #[tokio::test]
    async fn serves_on_the_bound_port_until_shutdown() {
        let probes = Probes::new(
            ProbeBodies::lines("not ready\n"),
            Arc::new(AtomicBool::new(true)),
            MetricsSource::from_fn(String::new),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let server = serve("127.0.0.1:0".parse().unwrap(), probes.router(), async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
        assert_ne!(server.addr.port(), 0);
        let response = http_get(server.addr, "/healthz").await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("\r\n\r\nok\n"), "{response}");
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server.task)
            .await
            .expect("stops after shutdown")
            .unwrap();
    }

    #[tokio::test]
    async fn a_taken_port_is_a_bind_error_naming_it() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let Err(error) = serve(addr, Router::new(), std::future::pending()).await else {
            panic!("bound a taken port");
        };
        assert_eq!(error.addr, addr);
        assert_eq!(error.to_string(), format!("cannot listen on {addr}"));
    }
}
