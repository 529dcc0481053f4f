//! Wiring: capture → drain thread (attribute, route to colonies, batch) →
//! one reporter per colony → colony, plus the metrics port. Stops on the `shutdown` future with a last drain
//! and a bounded attempt to deliver what is buffered.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use coral_proto::Timestamp;
use coral_proto::agent::limits::AGENT_FLOWS_PER_BATCH;
use tokio::sync::mpsc;

use crate::attribution::{Attribute, StaticMap};
use crate::cluster_watch::ClusterWatch;
use crate::colony_targets::{ColoniesFileWatch, TargetSource};
use crate::config::{Config, Mode};
use crate::error::StartError;
use crate::flow_report::attribute;
use crate::host_workloads::HostWorkloads;
use crate::http::{self, Health};
use crate::metrics::Metrics;
use crate::report::{Fanout, FanoutSettings, PendingBatch, SharedComponents};
use crate::scope::{ColonyScope, Routing, route};
use crate::state::StateDir;
use crate::{CaptureOptions, DrainReport, FlowCapture, netns_cookie};

const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the colonies file is checked for changes (a mounted Secret
/// changes within about a minute of its update).
const COLONIES_FILE_POLL: Duration = Duration::from_secs(5);

/// How often `--workloads-dir` is read again.
const WORKLOADS_DIR_POLL: Duration = Duration::from_secs(2);

/// Where attribution comes from.
enum Attribution {
    /// Replaced whole when the host workloads change.
    Host(Arc<RwLock<StaticMap>>),
    Cluster(ClusterWatch),
}

impl Attribution {
    fn with_lookup<R>(&self, f: impl FnOnce(&dyn Attribute) -> R) -> R {
        match self {
            Self::Host(map) => f(&*map.read().unwrap_or_else(PoisonError::into_inner)),
            Self::Cluster(watch) => f(&watch.index()),
        }
    }

    fn scope(&self) -> ColonyScope {
        match self {
            Self::Host(_) => ColonyScope::default(),
            Self::Cluster(watch) => watch.scope(),
        }
    }
}

/// How the drain thread routes flows: all to one colony, or by Connections.
#[derive(Clone)]
enum Scoping {
    Everything(String),
    ByConnections,
}

/// A batch and the colony it is for.
struct RoutedBatch {
    colony: String,
    batch: PendingBatch,
}

pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    config.check()?;
    let source = TargetSource::from_config(&config)?;
    let mut file_watch = None;
    let initial_targets = match &source {
        TargetSource::Flags(target) => vec![target.clone()],
        TargetSource::File(path) => {
            let mut watch = ColoniesFileWatch::new(path);
            let targets = watch.poll()?.unwrap_or_default();
            file_watch = Some(watch);
            targets
        }
    };
    let scoping = match &source {
        TargetSource::Flags(target) if !source.scoped_by_connections(config.mode) => {
            Scoping::Everything(target.colony.clone())
        }
        _ => Scoping::ByConnections,
    };
    let node_name = config.node_name();
    let agent_id = config.agent_id();
    let state = StateDir::open(&config.state_dir)?;
    let key = state.node_key()?;

    let capture = FlowCapture::start(CaptureOptions {
        flow_map_entries: config.flow_map_entries,
        // Host mode keys the connects of the agent's own namespace by
        // process: that is where it reads the processes' listening ports.
        process_netns: match config.mode {
            Mode::Host => Some(netns_cookie::current().map_err(StartError::NetnsCookie)?),
            Mode::Kubernetes => None,
        },
        ..CaptureOptions::default()
    })?;

    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health {
        metrics: metrics.clone(),
        ready: AtomicBool::new(false),
    });
    let addr = http::serve(config.metrics_addr, health.clone())
        .await
        .map_err(|source| StartError::Bind {
            addr: config.metrics_addr,
            source,
        })?;
    tracing::info!(%addr, "Agent metrics listening");

    let mut host_workloads = (config.mode == Mode::Host)
        .then(|| HostWorkloads::new(config.workloads.clone(), config.workloads_dir.clone()));
    let host_map = Arc::new(RwLock::new(StaticMap::new(
        host_workloads
            .as_ref()
            .map(|w| w.current().to_vec())
            .unwrap_or_default(),
    )));
    let attribution = match config.mode {
        Mode::Host => Attribution::Host(host_map.clone()),
        Mode::Kubernetes => Attribution::Cluster(
            ClusterWatch::start(
                &node_name,
                Duration::from_secs(120),
                matches!(scoping, Scoping::ByConnections),
            )
            .await?,
        ),
    };

    // Host-mode workloads go with every heartbeat, as components.
    let components: SharedComponents = Arc::new(RwLock::new(match &attribution {
        Attribution::Host(map) => map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .components(),
        Attribution::Cluster(_) => Vec::new(),
    }));
    let mut fanout = Fanout::new(
        FanoutSettings {
            agent_id: agent_id.clone(),
            node_name: node_name.clone(),
            key: key.clone(),
            heartbeat_interval: config.heartbeat_interval,
            buffer_batches: config.buffer_batches,
            max_retry_interval: config.max_retry_interval,
            shutdown_grace: Duration::from_secs(5),
            call_timeout: CALL_TIMEOUT,
            per_colony_state: source.per_colony_state(),
            components: components.clone(),
        },
        metrics.clone(),
        state,
    );
    fanout.apply(initial_targets).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (batches_tx, mut batches_rx) = mpsc::unbounded_channel();
    let drain = {
        let (stop, metrics, interval) = (stop.clone(), metrics.clone(), config.drain_interval);
        let scoping = scoping.clone();
        std::thread::Builder::new()
            .name("drain".into())
            .spawn(move || {
                drain_loop(
                    capture,
                    attribution,
                    &scoping,
                    interval,
                    &stop,
                    &metrics,
                    batches_tx,
                )
            })
            .expect("spawn the drain thread")
    };
    health.ready.store(true, Ordering::Relaxed);
    tracing::info!(
        %agent_id,
        node = %node_name,
        mode = ?config.mode,
        colonies = fanout.colonies(),
        colonies_file = ?config.colonies_file,
        scoped_by_connections = matches!(scoping, Scoping::ByConnections),
        pubkey = %key.public_key(),
        drain_interval_ms = config.drain_interval.as_millis() as u64,
        "Agent started"
    );

    tokio::spawn({
        let (stop, health) = (stop.clone(), health.clone());
        async move {
            shutdown.await;
            tracing::info!("stopping: last drain, then delivering buffered batches");
            health.ready.store(false, Ordering::Relaxed);
            stop.store(true, Ordering::Relaxed);
        }
    });

    // Hand batches to their colonies' reporters until the drain thread has
    // sent its last one and hung up; follow the colonies file meanwhile.
    let mut poll = tokio::time::interval(COLONIES_FILE_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut workloads_poll = tokio::time::interval(WORKLOADS_DIR_POLL);
    workloads_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            routed = batches_rx.recv() => match routed {
                Some(RoutedBatch { colony, batch }) => {
                    let flows = batch.flows.len() as u64;
                    if !fanout.send(&colony, batch) {
                        metrics.flows_out_of_scope.inc_by(flows);
                    }
                }
                None => break,
            },
            _ = poll.tick(), if file_watch.is_some() => {
                if let Some(targets) = file_watch.as_mut().and_then(ColoniesFileWatch::poll_logged) {
                    tracing::info!(colonies = targets.len(), "the colonies file changed");
                    fanout.apply(targets).await;
                }
            }
            _ = workloads_poll.tick(), if config.workloads_dir.is_some() => {
                if let Some(changed) = host_workloads.as_mut().and_then(HostWorkloads::poll) {
                    let names: Vec<String> = changed.iter().map(|w| format!("{}/{}", w.namespace, w.name)).collect();
                    tracing::info!(workloads = ?names, "the host workloads changed");
                    let map = StaticMap::new(changed);
                    *components.write().unwrap_or_else(PoisonError::into_inner) = map.components();
                    *host_map.write().unwrap_or_else(PoisonError::into_inner) = map;
                }
            }
        }
    }
    fanout.finish().await;
    let _ = drain.join();
    tracing::info!("Agent stopped");
    Ok(())
}

/// Drains every `interval` until `stop`, then once more; each non-empty
/// drain becomes one batch.
fn drain_loop(
    mut capture: FlowCapture,
    attribution: Attribution,
    scoping: &Scoping,
    interval: Duration,
    stop: &AtomicBool,
    metrics: &Metrics,
    batches: mpsc::UnboundedSender<RoutedBatch>,
) {
    let mut window_start = SystemTime::now();
    let mut overflows_seen = 0;
    let mut next = Instant::now() + interval;
    loop {
        // At start and then each interval, so new pods and workloads are
        // skipped soon; until then their accepted connections are counted
        // and left to the client below, as the kernel would have.
        let observed = attribution.with_lookup(|lookup| lookup.observed_clients());
        if let Err(error) = capture.set_observed_clients(observed) {
            tracing::warn!(%error, "updating the observed clients in the kernel failed; their accepted connections are counted and left to the client instead");
        }
        while Instant::now() < next && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50).min(interval));
        }
        let stopping = stop.load(Ordering::Relaxed);
        next += interval;
        let report: DrainReport = match capture.drain() {
            Ok(report) => report,
            Err(error) => {
                metrics.drain_errors.inc();
                tracing::error!(%error, "draining the flow map failed; counts stay in the map for the next drain");
                if stopping {
                    return;
                }
                continue;
            }
        };
        let window_end = SystemTime::now();
        metrics
            .flow_map_overflows
            .inc_by(report.dropped_map_full_total.saturating_sub(overflows_seen));
        overflows_seen = overflows_seen.max(report.dropped_map_full_total);
        metrics.flows_captured.inc_by(report.flows.len() as u64);
        metrics
            .connections_captured
            .inc_by(report.flows.iter().map(|f| f.opened).sum());
        let attributed = attribution.with_lookup(|lookup| attribute(&report.flows, lookup));
        metrics.flows_unattributed.inc_by(attributed.unattributed);
        metrics
            .flows_left_to_client
            .inc_by(attributed.left_to_client);
        metrics
            .flows_external_remote
            .inc_by(attributed.external_remote);
        let routing = match scoping {
            Scoping::Everything(colony) => Routing::Everything(colony.clone()),
            Scoping::ByConnections => Routing::ByConnections(attribution.scope()),
        };
        let routed = route(attributed.flows, &routing);
        metrics.flows_out_of_scope.inc_by(routed.out_of_scope);
        for (colony, mut flows) in routed.per_colony {
            while !flows.is_empty() {
                let rest = flows.split_off(flows.len().min(AGENT_FLOWS_PER_BATCH));
                let batch = PendingBatch {
                    sequence: None,
                    window_start: Timestamp::from(window_start),
                    window_end: Timestamp::from(window_end),
                    flows,
                };
                let routed = RoutedBatch {
                    colony: colony.clone(),
                    batch,
                };
                if batches.send(routed).is_err() {
                    return; // the dispatcher is gone
                }
                flows = rest;
            }
        }
        window_start = window_end;
        if stopping {
            return;
        }
    }
}
