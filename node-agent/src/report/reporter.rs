//! The reporting loop. Batches arrive from the drain thread; the loop
//! enrolls when needed, sends the buffered batches in order, and backs off
//! while the colony is unreachable. A batch keeps its sequence number across
//! retries and colony restarts, and the colony stores each (agent, sequence)
//! once, so nothing is lost or counted twice while the buffer holds.

use std::future::Future;
use std::time::Duration;

use coral_proto::Timestamp;
use coral_proto::agent::v1::{AgentCounters, EnrollRequest, FlowBatch, HeartbeatRequest};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};
use tonic::{Code, Status};

use super::link::ColonyLink;
use super::outbox::{Outbox, PendingBatch};
use crate::metrics::ColonyMetrics;
use crate::state::StateDir;

#[derive(Clone, Debug)]
pub struct ReporterConfig {
    pub agent_id: String,
    pub node_name: String,
    pub enrollment_token: String,
    pub pubkey: String,
    /// Shown in "unreachable" log lines.
    pub colony_endpoint: String,
    pub heartbeat_interval: Duration,
    pub buffer_batches: usize,
    /// Retry delays double from 250 ms up to this.
    pub max_retry_interval: Duration,
    /// How long a stopping agent keeps trying to deliver what it buffered.
    pub shutdown_grace: Duration,
    /// Host mode: the workloads observed, sent with every heartbeat.
    pub components: super::SharedComponents,
}

#[derive(Debug)]
enum FlushError {
    Enroll(Status),
    Report(Status),
}

pub struct Reporter<L> {
    link: L,
    config: ReporterConfig,
    outbox: Outbox,
    metrics: ColonyMetrics,
    state: Option<StateDir>,
    /// The last sequence number handed out.
    last_sequence: u64,
    enrolled: bool,
    failures: u32,
}

impl<L: ColonyLink> Reporter<L> {
    /// `state` persists the sequence counter (tests may pass `None`).
    pub fn new(
        link: L,
        config: ReporterConfig,
        metrics: ColonyMetrics,
        state: Option<StateDir>,
    ) -> Self {
        let last_sequence = state
            .as_ref()
            .and_then(|state| state.last_sequence().ok())
            .unwrap_or(0);
        Self {
            link,
            outbox: Outbox::new(config.buffer_batches),
            config,
            metrics,
            state,
            last_sequence,
            enrolled: false,
            failures: 0,
        }
    }

    pub fn buffered(&self) -> usize {
        self.outbox.len()
    }

    /// The link, for closing its tunnel once the reporter has finished.
    pub fn into_link(self) -> L {
        self.link
    }

    /// Runs until `batches` closes or `shutdown` resolves, then tries for
    /// `shutdown_grace` to deliver what is left.
    pub async fn run(
        mut self,
        mut batches: mpsc::UnboundedReceiver<PendingBatch>,
        shutdown: impl Future<Output = ()>,
    ) -> Self {
        tokio::pin!(shutdown);
        let mut heartbeat = tokio::time::interval(self.config.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut retry_at: Option<Instant> = None;
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                batch = batches.recv() => match batch {
                    Some(batch) => self.queue(batch),
                    None => break,
                },
                () = sleep_until(retry_at.unwrap_or_else(Instant::now)), if retry_at.is_some() => {
                    retry_at = None;
                }
                _ = heartbeat.tick() => {
                    if self.enrolled && retry_at.is_none() {
                        self.heartbeat().await;
                    }
                }
            }
            if retry_at.is_none() && (!self.enrolled || !self.outbox.is_empty()) {
                retry_at = self.flush_or_back_off().await;
            }
        }
        // The drain thread's last batch may still be in the channel.
        batches.close();
        while let Some(batch) = batches.recv().await {
            self.queue(batch);
        }
        let deadline = Instant::now() + self.config.shutdown_grace;
        while !self.outbox.is_empty() && Instant::now() < deadline {
            match self.flush_or_back_off().await {
                None => break,
                Some(at) => sleep_until(at.min(deadline)).await,
            }
        }
        if !self.outbox.is_empty() {
            tracing::warn!(
                batches = self.outbox.len(),
                "stopping with batches the colony did not acknowledge; they are lost"
            );
        }
        self
    }

    fn queue(&mut self, batch: PendingBatch) {
        let dropped = self.outbox.push(batch);
        if dropped > 0 {
            self.metrics.batches_dropped.inc_by(dropped);
            tracing::warn!(
                dropped,
                capacity = self.config.buffer_batches,
                "batch buffer full while the colony is unreachable: dropped the oldest batches \
                 (raise --buffer-batches to ride out longer outages)"
            );
        }
        self.metrics.batches_buffered.set(self.outbox.len() as i64);
    }

    /// One delivery attempt; on failure, when to try again.
    async fn flush_or_back_off(&mut self) -> Option<Instant> {
        match self.flush().await {
            Ok(()) => {
                if self.failures > 0 {
                    tracing::info!(
                        failed_attempts = self.failures,
                        "colony reachable again; buffered batches delivered"
                    );
                }
                self.failures = 0;
                None
            }
            Err(error) => {
                self.failures += 1;
                let delay = retry_delay(self.failures, self.config.max_retry_interval);
                self.log_failure(&error, delay);
                // A tunnel that stays dark may be stale (the colony came back
                // with another key or address): every fifth failure, enroll
                // again, which rebuilds the tunnel from the colony's answer.
                if matches!(error, FlushError::Report(_)) && self.failures.is_multiple_of(5) {
                    self.enrolled = false;
                    self.metrics.enrolled.set(0);
                }
                Some(Instant::now() + delay)
            }
        }
    }

    fn log_failure(&self, error: &FlushError, delay: Duration) {
        let endpoint = &self.config.colony_endpoint;
        let buffered = self.outbox.len();
        let retry_in_ms = delay.as_millis() as u64;
        let (status, during) = match error {
            FlushError::Enroll(status) => (status, "enrolling"),
            FlushError::Report(status) => (status, "sending a flow batch"),
        };
        let advice = match status.code() {
            Code::Unauthenticated => {
                "the colony refused the enrollment token: check --enrollment-token / \
                 --enrollment-token-file against the colony's"
            }
            Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled => {
                "colony unreachable: check that the colony runs, that --colony-endpoint \
                 names it, and that this node can reach it"
            }
            _ => "the colony refused the call",
        };
        // The first failure and then every tenth are warnings; the rest debug.
        if self.failures == 1 || self.failures.is_multiple_of(10) {
            tracing::warn!(%endpoint, during, code = ?status.code(), detail = status.message(), buffered, retry_in_ms, failed_attempts = self.failures, "{advice}");
        } else {
            tracing::debug!(%endpoint, during, code = ?status.code(), detail = status.message(), buffered, retry_in_ms, "{advice}");
        }
    }

    async fn enroll(&mut self) -> Result<(), FlushError> {
        let request = EnrollRequest {
            token: self.config.enrollment_token.clone(),
            agent_id: self.config.agent_id.clone(),
            pubkey: self.config.pubkey.clone(),
            node_name: self.config.node_name.clone(),
            version: crate::VERSION.to_owned(),
            endpoint: String::new(),
        };
        let response = self
            .link
            .enroll(request)
            .await
            .map_err(FlushError::Enroll)?;
        // Continue after both what the colony stored and what this agent
        // handed out (numbers of batches still buffered stay unique).
        self.last_sequence = self.last_sequence.max(response.last_sequence);
        self.enrolled = true;
        self.metrics.enrolled.set(1);
        tracing::info!(
            agent_id = %self.config.agent_id,
            mesh_ipv4 = %response.mesh_ipv4,
            colony_last_sequence = response.last_sequence,
            next_sequence = self.last_sequence + 1,
            "enrolled with the colony"
        );
        Ok(())
    }

    /// Enrolls if needed, then sends buffered batches oldest first until the
    /// buffer is empty or a call fails.
    async fn flush(&mut self) -> Result<(), FlushError> {
        if !self.enrolled {
            self.enroll().await?;
        }
        loop {
            let last_sequence = &mut self.last_sequence;
            let mut numbered = false;
            let Some(head) = self.outbox.head(|| {
                *last_sequence += 1;
                numbered = true;
                *last_sequence
            }) else {
                return Ok(());
            };
            let sequence = head.sequence.expect("head() numbers the batch");
            let batch = FlowBatch {
                agent_id: self.config.agent_id.clone(),
                sequence,
                window_start: Some(head.window_start),
                window_end: Some(head.window_end),
                flows: head.flows.clone(),
            };
            let flows = batch.flows.len() as u64;
            if numbered && let Some(state) = &self.state {
                // A lost write only risks reusing numbers the colony never
                // stored; its lastSequence still wins at the next enroll.
                if let Err(error) = state.save_sequence(sequence) {
                    tracing::warn!(%error, "could not persist the batch sequence");
                }
            }
            match self.link.report(batch).await {
                Ok(response) => {
                    self.outbox.pop();
                    self.metrics.batches_sent.inc();
                    self.metrics.flows_reported.inc_by(flows);
                    if response.duplicate {
                        self.metrics.batches_duplicate.inc();
                    }
                    self.metrics.last_acknowledged_sequence.set(sequence);
                }
                Err(status) if status.code() == Code::InvalidArgument => {
                    self.outbox.pop();
                    self.metrics.batches_rejected.inc();
                    tracing::error!(
                        sequence,
                        flows,
                        detail = status.message(),
                        "the colony refused a flow batch as invalid; dropped it"
                    );
                }
                Err(status) => {
                    self.metrics.batches_failed.inc();
                    if status.code() == Code::FailedPrecondition {
                        // The colony does not know us (e.g. its data was reset).
                        self.enrolled = false;
                        self.metrics.enrolled.set(0);
                    }
                    return Err(FlushError::Report(status));
                }
            }
            self.metrics.batches_buffered.set(self.outbox.len() as i64);
        }
    }

    async fn heartbeat(&mut self) {
        let m = &self.metrics;
        let request = HeartbeatRequest {
            agent_id: self.config.agent_id.clone(),
            sent_at: Some(Timestamp::now()),
            counters: Some(AgentCounters {
                flows_tracked: m.flows_captured.get(),
                map_overflows: m.flow_map_overflows.get(),
                batches_buffered: self.outbox.len() as u64,
                batches_dropped: m.batches_dropped.get(),
            }),
            components: self
                .config
                .components
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        };
        if let Err(status) = self.link.heartbeat(request).await {
            self.metrics.heartbeats_failed.inc();
            if status.code() == Code::FailedPrecondition {
                self.enrolled = false;
                self.metrics.enrolled.set(0);
            }
            tracing::debug!(code = ?status.code(), detail = status.message(), "heartbeat failed");
        }
    }
}

/// 250 ms, 500 ms, 1 s, … capped at `max`.
fn retry_delay(failures: u32, max: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    (Duration::from_millis(250) * 2u32.pow(exponent)).min(max)
}

#[cfg(test)]
mod tests;
