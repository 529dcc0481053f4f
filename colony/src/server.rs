//! Start-up and shutdown: open the store, bind, log the seed's start line,
//! serve until the shutdown future resolves, close the store.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpListener;

use crate::app::{self, ReflectionError};
use crate::config::{Config, ConfigError};
use crate::retention;
use crate::service::{Colony, ColonySettings};
use crate::store::duckdb::DuckDbStore;
use crate::store::{Store, StoreError};

/// The version reported by GetStatus and the start line.
pub const VERSION: &str = match option_env!("CORAL_VERSION") {
    Some(version) => version,
    None => env!("CARGO_PKG_VERSION"),
};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "failed to listen on {addr}: {source}; pick another --connect-port or stop the other process"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Reflection(#[from] ReflectionError),
}

async fn open_store(data_dir: PathBuf) -> Result<Arc<dyn Store>, StoreError> {
    tokio::task::spawn_blocking(move || DuckDbStore::open(&data_dir))
        .await
        .map_err(|e| StoreError::Backend(format!("store open task failed: {e}")))?
        .map(|store| Arc::new(store) as Arc<dyn Store>)
}

pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let colony_id = config.colony_id();
    let data_dir = config.data_dir()?;
    let enrollment_token = config.enrollment_token()?;
    tracing::info!(
        colony_id = %colony_id,
        data_dir = %data_dir.display(),
        version = %VERSION,
        "Starting colony"
    );
    let store = open_store(data_dir).await?;
    let addr = SocketAddr::new(config.bind, config.connect_port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;

    let settings = ColonySettings {
        colony_id: colony_id.clone(),
        application: config.application.clone(),
        environment: config.environment.clone(),
        version: VERSION.to_owned(),
        enrollment_token,
        mesh: config.mesh_ipv4_cidr,
        // The bound port, so `--connect-port 0` reports the real one.
        connect_port: local.port(),
        wireguard_endpoint: config.public_endpoint.clone(),
        retention: config.retention(),
    };
    let colony = Colony::new(store, settings);
    let ready = Arc::new(AtomicBool::new(true));
    let service = app::build(colony.clone(), ready.clone())?;
    let purge = tokio::spawn(retention::run(colony.clone(), config.purge_interval()));

    tracing::info!(addr = %coral_connect::display_listen_addr(local), storage = "duckdb", "Colony listening");
    tracing::info!(colony_id = %colony_id, "Colony started successfully");
    let shutdown = async move {
        shutdown.await;
        ready.store(false, Ordering::Relaxed);
        tracing::info!("Shutting down: no new connections, finishing in-flight requests");
    };
    coral_connect::serve(
        listener,
        service,
        coral_connect::ServeOptions::default(),
        shutdown,
    )
    .await;
    purge.abort();
    let _ = purge.await;
    // Dropping the last handle closes DuckDB, which checkpoints its WAL.
    let store = colony.store();
    drop(colony);
    tokio::task::spawn_blocking(move || drop(store)).await.ok();
    tracing::info!("Colony stopped");
    Ok(())
}
