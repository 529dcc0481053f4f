//! The DiscoveryService implementation shared by gRPC and Connect-JSON.

use std::sync::Arc;
use std::time::Instant;

use coral_proto::Timestamp;
use coral_proto::discovery::v1::discovery_service_server::DiscoveryService;
use coral_proto::discovery::v1::*;
use tonic::{Request, Response, Status};

use crate::error::DiscoveryError;
use crate::lease_table::{Granted, LeaseError, LeaseTable, Now, Upsert};
use crate::metrics::{Kind, Metrics};
use crate::rate_limit::RateLimiter;
use crate::validation::{check_id, check_pubkey, check_register_agent, check_register_colony};

/// Registry state; cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Discovery {
    inner: Arc<Inner>,
}

struct Inner {
    colonies: LeaseTable<RegisterColonyRequest>,
    agents: LeaseTable<RegisterAgentRequest>,
    limiter: RateLimiter,
    metrics: Metrics,
    version: String,
    capacity: usize,
    started: Instant,
}

/// Settings the registry needs from the command line.
#[derive(Debug, Clone)]
pub struct DiscoverySettings {
    pub ttl: std::time::Duration,
    pub capacity: usize,
    pub register_rate: f64,
    pub register_burst: u32,
    pub version: String,
}

impl Discovery {
    pub fn new(settings: DiscoverySettings) -> Self {
        Discovery {
            inner: Arc::new(Inner {
                colonies: LeaseTable::new(settings.ttl, settings.capacity),
                agents: LeaseTable::new(settings.ttl, settings.capacity),
                limiter: RateLimiter::new(settings.register_rate, settings.register_burst),
                metrics: Metrics::new(),
                version: settings.version,
                capacity: settings.capacity,
                started: Instant::now(),
            }),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Refresh the live-entry gauges and render `/metrics`.
    pub fn render_metrics(&self) -> String {
        let now = Instant::now();
        let inner = &self.inner;
        let colonies = inner.colonies.live_count(now);
        let agents = inner.agents.live_count(now);
        inner.metrics.colonies.live.set(colonies as i64);
        inner.metrics.agents.live.set(agents as i64);
        inner.metrics.encode()
    }

    /// Purge expired leases and idle rate-limit buckets (the cleanup loop).
    pub fn purge_expired(&self) -> (usize, usize) {
        let now = Instant::now();
        let inner = &self.inner;
        let colonies = inner.colonies.purge_expired(now);
        let agents = inner.agents.purge_expired(now);
        inner.metrics.colonies.expired.inc_by(colonies as u64);
        inner.metrics.agents.expired.inc_by(agents as u64);
        inner.limiter.prune(now);
        (colonies, agents)
    }

    fn refuse(&self, error: DiscoveryError) -> Status {
        self.inner.metrics.rejected(error.reason());
        tracing::debug!(reason = error.reason(), %error, "request refused");
        error.into()
    }

    fn admit<T>(&self, request: &Request<T>) -> Result<(), DiscoveryError> {
        // Without a peer address (in-process calls) there is nothing to key on.
        let Some(peer) = request.remote_addr() else {
            return Ok(());
        };
        if self.inner.limiter.try_acquire(peer.ip(), Instant::now()) {
            Ok(())
        } else {
            Err(DiscoveryError::RateLimited {
                source_ip: peer.ip().to_string(),
            })
        }
    }

    fn lease_error(&self, kind: Kind, id: &str, error: LeaseError) -> DiscoveryError {
        let id = id.to_owned();
        match error {
            LeaseError::HeldByAnother => DiscoveryError::HeldByAnother { kind, id },
            LeaseError::NotOwner => DiscoveryError::NotOwner { kind, id },
            LeaseError::Full => DiscoveryError::Full {
                kind,
                capacity: self.inner.capacity,
            },
        }
    }

    fn count_grant(&self, kind: Kind, id: &str, granted: &Granted) {
        let counters = self.inner.metrics.kind(kind);
        match granted.outcome {
            Upsert::Renewed => {
                counters.renewed.inc();
                tracing::debug!(kind = %kind.as_str(), %id, "lease renewed");
            }
            Upsert::Created | Upsert::ReplacedExpired => {
                if granted.outcome == Upsert::ReplacedExpired {
                    counters.expired.inc();
                }
                counters.registered.inc();
                tracing::info!(kind = %kind.as_str(), %id, "registered");
            }
        }
    }

    fn ttl_seconds(&self) -> i32 {
        i32::try_from(self.inner.colonies.ttl().as_secs()).unwrap_or(i32::MAX)
    }

    fn register_colony_inner(
        &self,
        request: Request<RegisterColonyRequest>,
    ) -> Result<RegisterColonyResponse, DiscoveryError> {
        self.admit(&request)?;
        let request = request.into_inner();
        check_register_colony(&request)?;
        let id = request.mesh_id.clone();
        let owner = request.pubkey.clone();
        let granted = self
            .inner
            .colonies
            .upsert(&id, &owner, request, Now::current())
            .map_err(|e| self.lease_error(Kind::Colony, &id, e))?;
        self.count_grant(Kind::Colony, &id, &granted);
        Ok(RegisterColonyResponse {
            success: true,
            ttl: self.ttl_seconds(),
            expires_at: Some(Timestamp::from(granted.expires_at)),
        })
    }

    fn register_agent_inner(
        &self,
        request: Request<RegisterAgentRequest>,
    ) -> Result<RegisterAgentResponse, DiscoveryError> {
        self.admit(&request)?;
        let request = request.into_inner();
        check_register_agent(&request)?;
        let id = request.agent_id.clone();
        let owner = request.pubkey.clone();
        let granted = self
            .inner
            .agents
            .upsert(&id, &owner, request, Now::current())
            .map_err(|e| self.lease_error(Kind::Agent, &id, e))?;
        self.count_grant(Kind::Agent, &id, &granted);
        Ok(RegisterAgentResponse {
            success: true,
            ttl: self.ttl_seconds(),
            expires_at: Some(Timestamp::from(granted.expires_at)),
        })
    }

    fn deregister_colony_inner(
        &self,
        request: Request<DeregisterColonyRequest>,
    ) -> Result<DeregisterColonyResponse, DiscoveryError> {
        self.admit(&request)?;
        let request = request.into_inner();
        check_id("mesh_id", &request.mesh_id)?;
        check_pubkey("pubkey", &request.pubkey)?;
        let removed = self
            .inner
            .colonies
            .remove(&request.mesh_id, &request.pubkey, Instant::now())
            .map_err(|e| self.lease_error(Kind::Colony, &request.mesh_id, e))?;
        if removed {
            tracing::info!(mesh_id = %request.mesh_id, "colony deregistered");
        }
        Ok(DeregisterColonyResponse { removed })
    }

    fn lookup_colony_inner(
        &self,
        request: LookupColonyRequest,
    ) -> Result<LookupColonyResponse, DiscoveryError> {
        check_id("mesh_id", &request.mesh_id)?;
        let counters = &self.inner.metrics.colonies;
        let Some(found) = self.inner.colonies.get(&request.mesh_id, Instant::now()) else {
            counters.not_found.inc();
            return Err(DiscoveryError::NotFound {
                kind: Kind::Colony,
                id: request.mesh_id,
            });
        };
        counters.found.inc();
        let record = found.record;
        Ok(LookupColonyResponse {
            mesh_id: record.mesh_id,
            pubkey: record.pubkey,
            endpoints: record.endpoints,
            mesh_ipv4: record.mesh_ipv4,
            mesh_ipv6: record.mesh_ipv6,
            connect_port: record.connect_port,
            metadata: record.metadata,
            last_seen: Some(Timestamp::from(found.last_seen)),
        })
    }

    fn lookup_agent_inner(
        &self,
        request: LookupAgentRequest,
    ) -> Result<LookupAgentResponse, DiscoveryError> {
        check_id("agent_id", &request.agent_id)?;
        let counters = &self.inner.metrics.agents;
        let Some(found) = self.inner.agents.get(&request.agent_id, Instant::now()) else {
            counters.not_found.inc();
            return Err(DiscoveryError::NotFound {
                kind: Kind::Agent,
                id: request.agent_id,
            });
        };
        counters.found.inc();
        let record = found.record;
        Ok(LookupAgentResponse {
            agent_id: record.agent_id,
            mesh_id: record.mesh_id,
            pubkey: record.pubkey,
            endpoints: record.endpoints,
            metadata: record.metadata,
            last_seen: Some(Timestamp::from(found.last_seen)),
        })
    }

    pub fn health_response(&self) -> HealthResponse {
        let inner = &self.inner;
        let live = inner.colonies.live_count(Instant::now());
        HealthResponse {
            status: "ok".to_owned(),
            version: inner.version.clone(),
            uptime_seconds: i64::try_from(inner.started.elapsed().as_secs()).unwrap_or(i64::MAX),
            registered_colonies: i32::try_from(live).unwrap_or(i32::MAX),
        }
    }
}

#[tonic::async_trait]
impl DiscoveryService for Discovery {
    async fn register_colony(
        &self,
        request: Request<RegisterColonyRequest>,
    ) -> Result<Response<RegisterColonyResponse>, Status> {
        self.register_colony_inner(request)
            .map(Response::new)
            .map_err(|e| self.refuse(e))
    }

    async fn deregister_colony(
        &self,
        request: Request<DeregisterColonyRequest>,
    ) -> Result<Response<DeregisterColonyResponse>, Status> {
        self.deregister_colony_inner(request)
            .map(Response::new)
            .map_err(|e| self.refuse(e))
    }

    async fn lookup_colony(
        &self,
        request: Request<LookupColonyRequest>,
    ) -> Result<Response<LookupColonyResponse>, Status> {
        self.lookup_colony_inner(request.into_inner())
            .map(Response::new)
            .map_err(|e| self.refuse(e))
    }

    async fn register_agent(
        &self,
        request: Request<RegisterAgentRequest>,
    ) -> Result<Response<RegisterAgentResponse>, Status> {
        self.register_agent_inner(request)
            .map(Response::new)
            .map_err(|e| self.refuse(e))
    }

    async fn lookup_agent(
        &self,
        request: Request<LookupAgentRequest>,
    ) -> Result<Response<LookupAgentResponse>, Status> {
        self.lookup_agent_inner(request.into_inner())
            .map(Response::new)
            .map_err(|e| self.refuse(e))
    }

    async fn health(
        &self,
        _request: Request<HealthRequest>,
    ) -> Result<Response<HealthResponse>, Status> {
        Ok(Response::new(self.health_response()))
    }
}
