//! AgentService: enrollment, heartbeats and flow batches.

use coral_proto::Timestamp;
use coral_proto::agent::v1::agent_service_server::AgentService;
use coral_proto::agent::v1::*;
use tonic::{Request, Response, Status};

use super::{Colony, unix_now};
use crate::error::ColonyError;
use crate::local_components;
use crate::rollup::{minute_of, rollup};
use crate::store::{AgentEnrollment, BatchId, BatchOutcome, EventRecord};
use crate::validation::{check_agent_id, check_batch, check_enroll, check_local_components};

/// Compare without an early exit, so timing does not reveal the token.
fn token_matches(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    let mut difference = given.len() ^ expected.len();
    for (index, byte) in expected.iter().enumerate() {
        difference |= usize::from(byte ^ given.get(index).copied().unwrap_or(0));
    }
    difference == 0 && !expected.is_empty()
}

impl Colony {
    async fn enroll_inner(&self, request: EnrollRequest) -> Result<EnrollResponse, ColonyError> {
        if !token_matches(&request.token, &self.settings().enrollment_token) {
            return Err(ColonyError::Unauthenticated);
        }
        check_enroll(&request)?;
        let mesh = self.settings().mesh;
        let enrollment = AgentEnrollment {
            agent_id: request.agent_id.clone(),
            pubkey: request.pubkey,
            node_name: request.node_name,
            version: request.version,
            endpoint: request.endpoint,
            at: unix_now(),
        };
        let enrolled = self
            .with_store("enroll", {
                let enrollment = enrollment.clone();
                move |store| store.enroll_agent(&enrollment, mesh.max_host())
            })
            .await?;
        if let Some(hub) = self.hub() {
            hub.admit(&enrollment.pubkey, enrolled.mesh_host).await?;
        }
        let mesh_ipv4 = mesh.ipv4(enrolled.mesh_host).to_string();
        if enrolled.new_key {
            let event = EventRecord {
                time: enrollment.at,
                kind: "agent_enrolled".into(),
                component: enrollment.agent_id.clone(),
                namespace: String::new(),
                message: format!(
                    "agent {} on node {} enrolled as {mesh_ipv4}",
                    enrollment.agent_id, enrollment.node_name
                ),
            };
            // The enrollment itself succeeded; a lost event is only logged.
            let _ = self
                .with_store("record_event", move |store| store.record_event(&event))
                .await;
        }
        self.metrics().enrollments.inc();
        tracing::info!(
            agent_id = %enrollment.agent_id,
            node = %enrollment.node_name,
            mesh_ipv4 = %mesh_ipv4,
            last_sequence = enrolled.last_sequence,
            "Agent enrolled"
        );
        // Without a hub both stay empty: the agent reports on the connect
        // port it enrolled through.
        let (colony_pubkey, colony_endpoint) = match self.hub() {
            Some(hub) => (
                hub.public_key().to_base64(),
                hub.advertised_endpoint().to_owned(),
            ),
            None => Default::default(),
        };
        Ok(EnrollResponse {
            mesh_ipv4,
            mesh_ipv6: mesh.ipv6(enrolled.mesh_host).to_string(),
            colony_pubkey,
            colony_endpoint,
            colony_mesh_ipv4: mesh.colony_ipv4().to_string(),
            colony_mesh_ipv6: mesh.colony_ipv6().to_string(),
            mesh_ipv4_prefix: u32::from(mesh.prefix()),
            connect_port: u32::from(self.settings().connect_port),
            last_sequence: enrolled.last_sequence,
        })
    }

    async fn heartbeat_inner(
        &self,
        request: HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ColonyError> {
        check_agent_id(&request.agent_id)?;
        check_local_components(&request.components)?;
        let now = unix_now();
        let agent_id = request.agent_id.clone();
        let known = self
            .with_store("touch_agent", move |store| {
                store.touch_agent(&agent_id, now)
            })
            .await?;
        if !known {
            return Err(ColonyError::NotEnrolled {
                agent_id: request.agent_id,
            });
        }
        if !request.components.is_empty() {
            let components = request.components;
            self.with_store("register_components", move |store| {
                local_components::register(store, &components, now)
            })
            .await?;
        }
        Ok(HeartbeatResponse {
            received_at: Some(Timestamp::now()),
        })
    }

    async fn report_flows_inner(
        &self,
        batch: FlowBatch,
    ) -> Result<ReportFlowsResponse, ColonyError> {
        let now = unix_now();
        check_batch(&batch, now, now - self.minute_retention_seconds())?;
        let agent_id = batch.agent_id.clone();
        let known = self
            .with_store("agent", move |store| store.agent(&agent_id))
            .await?
            .is_some();
        if !known {
            return Err(ColonyError::NotEnrolled {
                agent_id: batch.agent_id,
            });
        }
        let minute = minute_of(batch.window_start.map_or(now, |t| t.seconds));
        let rows = rollup(&batch, minute);
        let id = BatchId {
            agent_id: batch.agent_id.clone(),
            sequence: batch.sequence,
            received_at: now,
        };
        let row_count = rows.len() as u64;
        let outcome = self
            .with_store("apply_batch", move |store| store.apply_batch(&id, &rows))
            .await?;
        let duplicate = outcome == BatchOutcome::Duplicate;
        if duplicate {
            self.metrics().batches_duplicate.inc();
            tracing::debug!(agent_id = %batch.agent_id, sequence = batch.sequence, "duplicate batch acknowledged");
        } else {
            self.metrics().flows_stored.inc_by(batch.flows.len() as u64);
            self.metrics().rollup_rows_stored.inc_by(row_count);
        }
        Ok(ReportFlowsResponse {
            acknowledged_sequence: batch.sequence,
            duplicate,
        })
    }
}

#[tonic::async_trait]
impl AgentService for Colony {
    async fn enroll(
        &self,
        request: Request<EnrollRequest>,
    ) -> Result<Response<EnrollResponse>, Status> {
        let peer = request.remote_addr();
        match self.enroll_inner(request.into_inner()).await {
            Ok(response) => Ok(Response::new(response)),
            Err(error) => {
                self.metrics().enrollment_rejected(error.reason());
                tracing::warn!(?peer, reason = error.reason(), %error, "enrollment refused");
                Err(error.into())
            }
        }
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        self.require_mesh(request.local_addr())?;
        Ok(Response::new(
            self.heartbeat_inner(request.into_inner()).await?,
        ))
    }

    async fn report_flows(
        &self,
        request: Request<FlowBatch>,
    ) -> Result<Response<ReportFlowsResponse>, Status> {
        self.metrics().batches_received.inc();
        let local_addr = request.local_addr();
        let result = match self.require_mesh(local_addr) {
            Ok(()) => self.report_flows_inner(request.into_inner()).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(response) => Ok(Response::new(response)),
            Err(error) => {
                self.metrics().batch_rejected(error.reason());
                tracing::debug!(reason = error.reason(), %error, "flow batch refused");
                Err(error.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn token_comparison() {
        assert!(token_matches("secret", "secret"));
        assert!(!token_matches("secret!", "secret"));
        assert!(!token_matches("secre", "secret"));
        assert!(!token_matches("", "secret"));
        assert!(!token_matches("", ""));
    }
}
