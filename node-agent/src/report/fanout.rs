//! One reporter per colony, each with its own tunnel, outbox and sequence
//! numbers. Batches are handed to the colony they were routed to; the set of
//! colonies follows the colonies file (a changed endpoint or token restarts
//! that colony's reporter, a removed colony's reporter delivers what it can
//! and takes its tunnel down).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use coral_mesh::SecretKey;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{GrpcLink, MeshLink, PendingBatch, Reporter, ReporterConfig};
use crate::colony_targets::ColonyTarget;
use crate::metrics::Metrics;
use crate::state::StateDir;

/// What every colony's reporter shares.
#[derive(Clone)]
pub struct FanoutSettings {
    pub agent_id: String,
    pub node_name: String,
    pub key: SecretKey,
    pub heartbeat_interval: Duration,
    pub buffer_batches: usize,
    pub max_retry_interval: Duration,
    pub shutdown_grace: Duration,
    pub call_timeout: Duration,
    /// Keep a sequence counter per colony (else the state dir's one).
    pub per_colony_state: bool,
    /// Host mode: the workloads observed, for every colony's heartbeats.
    pub components: super::SharedComponents,
}

pub struct Fanout {
    settings: FanoutSettings,
    metrics: Arc<Metrics>,
    state: StateDir,
    running: BTreeMap<String, Running>,
}

struct Running {
    target: ColonyTarget,
    batches: mpsc::UnboundedSender<PendingBatch>,
    task: JoinHandle<()>,
}

impl Fanout {
    pub fn new(settings: FanoutSettings, metrics: Arc<Metrics>, state: StateDir) -> Self {
        Self {
            settings,
            metrics,
            state,
            running: BTreeMap::new(),
        }
    }

    pub fn colonies(&self) -> usize {
        self.running.len()
    }

    /// Makes the running reporters match `targets`.
    pub async fn apply(&mut self, targets: Vec<ColonyTarget>) {
        let wanted: BTreeMap<String, ColonyTarget> = targets
            .into_iter()
            .map(|target| (target.colony.clone(), target))
            .collect();
        let stale: Vec<String> = self
            .running
            .iter()
            .filter(|(colony, running)| wanted.get(*colony) != Some(&running.target))
            .map(|(colony, _)| colony.clone())
            .collect();
        for colony in stale {
            let running = self.running.remove(&colony).expect("listed above");
            let label = running.target.label().to_owned();
            tracing::info!(colony = %label, "stopping the reporter of a colony that left or changed");
            // The tunnel's device name is reused by a changed colony's new
            // reporter, so the old one must be gone first.
            drop(running.batches);
            let _ = running.task.await;
            if !wanted.contains_key(&colony) {
                self.metrics.forget_colony(&label);
            }
        }
        for (colony, target) in wanted {
            if self.running.contains_key(&colony) {
                continue;
            }
            match self.start(&target) {
                Ok(running) => {
                    tracing::info!(colony = %target.label(), endpoint = %target.endpoint, interface = %target.interface, "reporting to colony");
                    self.running.insert(colony, running);
                }
                Err(error) => {
                    tracing::error!(colony = %target.label(), %error, "cannot report to this colony");
                }
            }
        }
        self.metrics.colonies.set(self.running.len() as i64);
    }

    fn start(&self, target: &ColonyTarget) -> Result<Running, super::EndpointError> {
        let settings = &self.settings;
        let metrics = self.metrics.colony(target.label());
        let public = GrpcLink::new(&target.endpoint, settings.call_timeout)?;
        let link = MeshLink::new(
            public,
            &target.endpoint,
            settings.key.clone(),
            &target.interface,
            settings.call_timeout,
            metrics.clone(),
        );
        let state = if settings.per_colony_state {
            self.state.for_colony(&target.colony)
        } else {
            self.state.clone()
        };
        let reporter = Reporter::new(
            link,
            ReporterConfig {
                agent_id: settings.agent_id.clone(),
                node_name: settings.node_name.clone(),
                enrollment_token: target.enrollment_token.clone(),
                pubkey: settings.key.public_key().to_base64(),
                colony_endpoint: target.endpoint.clone(),
                heartbeat_interval: settings.heartbeat_interval,
                buffer_batches: settings.buffer_batches,
                max_retry_interval: settings.max_retry_interval,
                shutdown_grace: settings.shutdown_grace,
                components: settings.components.clone(),
            },
            metrics,
            Some(state),
        );
        let (batches, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let reporter = reporter.run(receiver, std::future::pending()).await;
            reporter.into_link().close().await;
        });
        Ok(Running {
            target: target.clone(),
            batches,
            task,
        })
    }

    /// Hands a batch to `colony`'s reporter; false when the agent does not
    /// report to that colony.
    pub fn send(&self, colony: &str, batch: PendingBatch) -> bool {
        self.running
            .get(colony)
            .is_some_and(|running| running.batches.send(batch).is_ok())
    }

    /// Stops every reporter after it has tried to deliver what it holds.
    pub async fn finish(self) {
        let tasks: Vec<JoinHandle<()>> = self
            .running
            .into_values()
            .map(|running| running.task)
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    }
}
