//! Start-up and shutdown of the discovery service: bind, log the start lines
//! users see in the README, serve until the shutdown future resolves.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpListener;

use crate::app::{self, ReflectionError};
use crate::cleanup;
use crate::config::Config;
use crate::service::{Discovery, DiscoverySettings};

/// The version reported by Health and the start line.
pub const VERSION: &str = match option_env!("CORAL_VERSION") {
    Some(version) => version,
    None => env!("CARGO_PKG_VERSION"),
};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("failed to listen on {addr}: {source}; pick another --port or stop the other process")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Reflection(#[from] ReflectionError),
}

pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    tracing::info!(
        port = config.port,
        ttl = %format_args!("{}s", config.ttl),
        version = %VERSION,
        "Starting discovery service"
    );
    let addr = SocketAddr::new(config.bind, config.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;

    let discovery = Discovery::new(DiscoverySettings {
        ttl: config.ttl(),
        capacity: config.max_entries as usize,
        register_rate: config.register_rate_limit,
        register_burst: config.register_burst,
        version: VERSION.to_owned(),
    });
    let ready = Arc::new(AtomicBool::new(true));
    let service = app::build(discovery.clone(), ready.clone())?;
    let cleanup = tokio::spawn(cleanup::run(discovery, config.cleanup_interval()));

    tracing::info!(addr = %coral_rpc::display_listen_addr(local), "Discovery service listening");
    let shutdown = async move {
        shutdown.await;
        ready.store(false, Ordering::Relaxed);
        tracing::info!("Shutting down: no new connections, finishing in-flight requests");
    };
    // Lookups are tiny: much of their cost is waking other threads, so each
    // core serves its share of the connections on its own runtime.
    let options = coral_rpc::ServeOptions {
        connection_threads: config.connection_threads(),
        ..Default::default()
    };
    coral_rpc::serve(listener, service, options, shutdown).await;
    cleanup.abort();
    tracing::info!("Discovery service stopped");
    Ok(())
}
