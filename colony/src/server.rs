//! Start-up and shutdown: open the store, bind, log the start line users see,
//! serve until the shutdown future resolves, close the store.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use coral_mesh::{MeshInterface, SecretKey};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{self, ReflectionError};
use coral_config::ColonySettings as Settings;

use crate::config::{ConfigError, RuntimeSettings, StorageChoice};
use crate::discovery_registration::{self, Announcement, EndpointError};
use crate::identity::{self, IdentityError};
use crate::inventory::{self, InventoryError};
use crate::mesh_hub::{self, Hub, HubSettings};
use crate::service::{Colony, ColonySettings};
use crate::store::clickhouse::ClickHouseStore;
use crate::store::duckdb::DuckDbStore;
use crate::store::recent::RecentMinutes;
use crate::store::{AgentRecord, Store, StoreError};
use crate::{peer_endpoints, retention};

/// How often the agents' WireGuard endpoints are saved when they changed.
const PEER_ENDPOINTS_INTERVAL: Duration = Duration::from_secs(10);

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
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Discovery(#[from] EndpointError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error(
        "{0}. Without a mesh, start the colony with --no-mesh (agents then report \
         unencrypted on the connect port; for local development only)"
    )]
    Mesh(#[from] coral_mesh::MeshError),
}

/// Opening blocks (DuckDB file, ClickHouse schema), so it runs off the
/// async threads.
async fn open_store(choice: StorageChoice) -> Result<Arc<dyn Store>, StoreError> {
    tokio::task::spawn_blocking(move || -> Result<Arc<dyn Store>, StoreError> {
        let store: Arc<dyn Store> = match choice {
            StorageChoice::Duckdb { data_dir } => Arc::new(DuckDbStore::open(&data_dir)?),
            StorageChoice::Clickhouse {
                url,
                database,
                user,
                password,
            } => Arc::new(ClickHouseStore::open(
                &url,
                &database,
                &user,
                password.expose(),
            )?),
        };
        // The last minutes in memory: recent topology without a query.
        Ok(Arc::new(RecentMinutes::new(store)?))
    })
    .await
    .map_err(|e| StoreError::Backend(format!("store open task failed: {e}")))?
}

/// The agents to admit to the mesh before anyone calls.
async fn known_agents(store: &Arc<dyn Store>) -> Result<Vec<AgentRecord>, StoreError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.list_agents())
        .await
        .map_err(|e| StoreError::Backend(format!("listing agents failed: {e}")))?
}

/// The WireGuard hub, unless `--no-mesh`, and when the connect port is bound
/// to one address, a second listener on the colony's mesh address (agents
/// report there).
async fn start_mesh(
    config: &Settings,
    store: &Arc<dyn Store>,
    key: &SecretKey,
    connect_port: u16,
    data_dir: &std::path::Path,
) -> Result<(Option<(MeshInterface, Hub)>, Option<TcpListener>), ServeError> {
    if !config.mesh.enabled {
        tracing::warn!(
            "Running without the WireGuard mesh (--no-mesh): agents report unencrypted on the connect port"
        );
        return Ok((None, None));
    }
    let agents = known_agents(store).await?;
    let settings = HubSettings {
        key: key.clone(),
        interface: config.mesh.interface.clone(),
        port: config.mesh.listen_port,
        network: config.mesh.network(),
        advertised_endpoint: config.mesh.advertised_endpoint(),
    };
    let endpoints_file = peer_endpoints::path(data_dir);
    let endpoints = peer_endpoints::load(&endpoints_file);
    let mesh = mesh_hub::start(settings, &agents, &endpoints).await?;
    tokio::spawn(peer_endpoints::keep(
        mesh.0.handle(),
        endpoints_file,
        endpoints,
        PEER_ENDPOINTS_INTERVAL,
    ));
    if config.bind.is_unspecified() {
        return Ok((Some(mesh), None));
    }
    let addr = SocketAddr::new(config.mesh.network().colony_ipv4().into(), connect_port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    Ok((Some(mesh), Some(listener)))
}

pub async fn run(config: Settings, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let colony_id = config.colony_id();
    let data_dir = config.data_dir_or_home()?;
    let enrollment_token = config.enrollment_token()?;
    let discovery = match &config.discovery_endpoint {
        Some(endpoint) => Some(discovery_registration::parse_endpoint(endpoint)?),
        None => None,
    };
    tracing::info!(
        colony_id = %colony_id,
        data_dir = %data_dir.display(),
        version = %VERSION,
        "Starting colony"
    );
    let key = identity::load_or_create(config.mesh.private_key_file.as_deref(), &data_dir)?;
    let storage = config.storage_choice()?;
    let storage_name = config.storage.backend_name();
    let store = open_store(storage).await?;
    let addr = SocketAddr::new(config.bind, config.connect_port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;

    let (mesh, mesh_listener) = start_mesh(&config, &store, &key, local.port(), &data_dir).await?;

    let settings = ColonySettings {
        colony_id: colony_id.clone(),
        application: config.application.clone(),
        environment: config.environment.clone(),
        version: VERSION.to_owned(),
        enrollment_token,
        mesh: config.mesh.network(),
        // The bound port, so `--connect-port 0` reports the real one.
        connect_port: local.port(),
        wireguard_endpoint: config.mesh.advertised_endpoint(),
        retention: config.retention_periods(),
    };
    let (interface, colony) = match mesh {
        Some((interface, hub)) => (Some(interface), Colony::with_hub(store, settings, hub)),
        None => (None, Colony::new(store, settings)),
    };
    let ready = Arc::new(AtomicBool::new(true));
    let service = app::build(colony.clone(), ready.clone())?;
    let purge = tokio::spawn(retention::run(colony.clone(), config.purge_interval()));
    let inventory = match &config.kubernetes_colony {
        Some(target) => {
            let client = inventory::connect(target).await?;
            tracing::info!(colony = %target, "Keeping the component inventory from the Kubernetes API");
            Some(tokio::spawn(inventory::run(
                colony.clone(),
                client,
                target.clone(),
                config.inventory_interval(),
            )))
        }
        None => None,
    };

    tracing::info!(addr = %coral_rpc::display_listen_addr(local), storage = storage_name, "Colony listening");
    let (stop_registration, stopped) = watch::channel(false);
    let registration = discovery.map(|endpoint| {
        let announcement = Announcement {
            mesh_id: colony_id.clone(),
            pubkey: key.public_key().to_base64(),
            endpoints: vec![config.mesh.advertised_endpoint()],
            mesh_ipv4: config.mesh.network().colony_ipv4().to_string(),
            mesh_ipv6: config.mesh.network().colony_ipv6().to_string(),
            connect_port: local.port().into(),
            metadata: HashMap::from([
                ("application".to_owned(), config.application.clone()),
                ("environment".to_owned(), config.environment.clone()),
            ]),
        };
        let interval = config.discovery_interval();
        tokio::spawn(discovery_registration::run(
            endpoint,
            announcement,
            interval,
            stopped,
        ))
    });
    tracing::info!(colony_id = %colony_id, "Colony started successfully");
    let (stop_serving, serving_stopped) = watch::channel(false);
    let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let on_mesh = mesh_listener.map(|listener| {
        tokio::spawn(coral_rpc::serve(
            listener,
            service.clone(),
            coral_rpc::ServeOptions::default(),
            until_stopped(serving_stopped.clone()),
        ))
    });
    let signal = async move {
        shutdown.await;
        ready.store(false, Ordering::Relaxed);
        tracing::info!("Shutting down: no new connections, finishing in-flight requests");
        let _ = stop_serving.send(true);
    };
    let serve_public = coral_rpc::serve(
        listener,
        service,
        coral_rpc::ServeOptions::default(),
        until_stopped(serving_stopped),
    );
    tokio::join!(signal, serve_public);
    if let Some(on_mesh) = on_mesh {
        let _ = on_mesh.await;
    }
    purge.abort();
    let _ = purge.await;
    if let Some(inventory) = inventory {
        inventory.abort();
        let _ = inventory.await;
    }
    // Deregister so lookups stop finding a colony that is gone.
    let _ = stop_registration.send(true);
    if let Some(registration) = registration {
        let _ = registration.await;
    }
    if let Some(interface) = interface
        && let Err(error) = interface.shutdown().await
    {
        tracing::warn!(%error, "the mesh interface stopped with an error");
    }
    // Dropping the last handle closes DuckDB, which checkpoints its WAL.
    let store = colony.store();
    drop(colony);
    tokio::task::spawn_blocking(move || drop(store)).await.ok();
    tracing::info!("Colony stopped");
    Ok(())
}
