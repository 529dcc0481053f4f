//! ColonyService: status, agents, components, topology, series, events.

use std::collections::HashMap;

use coral_proto::Timestamp;
use coral_proto::colony::v1::colony_service_server::ColonyService;
use coral_proto::colony::v1::*;
use tonic::{Request, Response, Status};

use super::{Colony, unix_now};
use crate::error::ColonyError;
use crate::local_components;
use crate::rollup::minute_of;
use crate::store::{AgentRecord, EventQuery, SeriesQuery, TopologyQuery, WorkloadRef};

const DEFAULT_TOPOLOGY_WINDOW: i64 = 300;
const DEFAULT_SERIES_WINDOW: i64 = 3600;
const DEFAULT_EVENT_LIMIT: i32 = 100;
const MAX_EVENT_LIMIT: i32 = 1000;
/// An agent silent for longer than this is reported `stale`.
const STALE_AFTER_SECONDS: i64 = 90;

fn timestamp(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

/// Node id: `namespace/name` for a workload, the address for an external one.
pub fn node_id(workload: &WorkloadRef) -> String {
    if workload.namespace.is_empty() {
        workload.name.clone()
    } else {
        format!("{}/{}", workload.namespace, workload.name)
    }
}

fn parse_node_id(field: &str, id: &str) -> Result<(String, String), ColonyError> {
    if id.is_empty() {
        return Err(ColonyError::InvalidArgument(format!(
            "{field} is required: a node id from GetTopology (namespace/name or an address)"
        )));
    }
    Ok(match id.split_once('/') {
        Some((namespace, name)) => (namespace.to_owned(), name.to_owned()),
        None => (String::new(), id.to_owned()),
    })
}

impl Colony {
    /// A window in seconds: 0 means `default`; at most the retention.
    fn window(&self, field: &str, seconds: i64, default: i64) -> Result<i64, ColonyError> {
        let retention = self.query_retention_seconds();
        match seconds {
            0 => Ok(default.min(retention)),
            s if (1..=retention).contains(&s) => Ok(s),
            s => Err(ColonyError::InvalidArgument(format!(
                "{field} must be between 1 and {retention} (the retention), got {s}"
            ))),
        }
    }

    async fn status_inner(&self) -> GetStatusResponse {
        let settings = self.settings();
        let counts = self
            .with_store("status", |store| {
                Ok((
                    store.list_agents()?.len(),
                    store.list_components(None)?.len(),
                ))
            })
            .await;
        let (agents, components, status) = match counts {
            Ok((agents, components)) => (agents, components, "healthy"),
            Err(_) => (0, 0, "degraded"),
        };
        GetStatusResponse {
            colony_id: settings.colony_id.clone(),
            application: settings.application.clone(),
            environment: settings.environment.clone(),
            version: settings.version.clone(),
            uptime_seconds: i64::try_from(self.inner.started.elapsed().as_secs())
                .unwrap_or(i64::MAX),
            mesh_ipv4: settings.mesh.colony_ipv4().to_string(),
            mesh_ipv6: settings.mesh.ipv6(1).to_string(),
            connect_port: u32::from(settings.connect_port),
            wireguard_endpoint: settings.wireguard_endpoint.clone(),
            mesh_pubkey: String::new(),
            agents: i32::try_from(agents).unwrap_or(i32::MAX),
            components: i32::try_from(components).unwrap_or(i32::MAX),
            storage: self.inner.store.backend().to_owned(),
            status: status.to_owned(),
        }
    }

    fn agent_message(&self, agent: AgentRecord, now: i64) -> Agent {
        let status = if now - agent.last_seen <= STALE_AFTER_SECONDS {
            "connected"
        } else {
            "stale"
        };
        Agent {
            agent_id: agent.agent_id,
            node_name: agent.node_name,
            mesh_ipv4: self.settings().mesh.ipv4(agent.mesh_host).to_string(),
            pubkey: agent.pubkey,
            version: agent.version,
            enrolled_at: timestamp(agent.enrolled_at),
            last_seen: timestamp(agent.last_seen),
            status: status.to_owned(),
        }
    }

    async fn topology_inner(
        &self,
        request: GetTopologyRequest,
    ) -> Result<GetTopologyResponse, ColonyError> {
        let window = self.window(
            "window_seconds",
            request.window_seconds,
            DEFAULT_TOPOLOGY_WINDOW,
        )?;
        let now = unix_now();
        // Whole minute buckets: the one holding `now - window` through now.
        let query = TopologyQuery {
            from: minute_of(now - window),
            to: now + 1,
            namespace: (!request.namespace.is_empty()).then_some(request.namespace),
            include_external: request.include_external,
        };
        let from = query.from;
        let edges = self
            .with_store("topology", move |store| store.topology(&query))
            .await?;
        // Each workload's id is formatted once, however many edges it has:
        // a large answer has 20 times more edge ends than workloads.
        let mut ids: HashMap<&WorkloadRef, String> = HashMap::new();
        let mut id_of = |end| ids.entry(end).or_insert_with(|| node_id(end)).clone();
        let mut out = Vec::with_capacity(edges.len());
        for edge in &edges {
            out.push(Edge {
                source: id_of(&edge.key.source),
                destination: id_of(&edge.key.destination),
                port: edge.key.port,
                connections: edge.stats.connections,
                failed_connections: edge.stats.failed,
                resets: edge.stats.resets,
                bytes_sent: edge.stats.bytes_sent,
                bytes_received: edge.stats.bytes_received,
                rtt_us: edge.stats.rtt_us(),
                // The start of the last minute bucket with traffic.
                last_seen: timestamp(edge.last_minute),
            });
        }
        let mut nodes: Vec<Node> = ids
            .into_iter()
            .map(|(end, id)| Node {
                id,
                name: end.name.clone(),
                namespace: end.namespace.clone(),
                kind: end.kind.clone(),
                external: end.is_external(),
            })
            .collect();
        nodes.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        // One node per id, even if two kinds share a namespace and name.
        nodes.dedup_by(|a, b| a.id == b.id);
        Ok(GetTopologyResponse {
            nodes,
            edges: out,
            window_start: timestamp(from),
            window_end: timestamp(now),
        })
    }

    async fn series_inner(
        &self,
        request: QueryEdgeSeriesRequest,
    ) -> Result<QueryEdgeSeriesResponse, ColonyError> {
        let window = self.window(
            "window_seconds",
            request.window_seconds,
            DEFAULT_SERIES_WINDOW,
        )?;
        let now = unix_now();
        let query = SeriesQuery {
            source: parse_node_id("source", &request.source)?,
            destination: parse_node_id("destination", &request.destination)?,
            from: minute_of(now - window),
            to: now + 1,
        };
        let points = self
            .with_store("edge_series", move |store| store.edge_series(&query))
            .await?;
        Ok(QueryEdgeSeriesResponse {
            points: points
                .into_iter()
                .map(|point| EdgePoint {
                    minute: timestamp(point.minute),
                    connections: point.stats.connections,
                    failed_connections: point.stats.failed,
                    bytes_sent: point.stats.bytes_sent,
                    bytes_received: point.stats.bytes_received,
                    rtt_us: point.stats.rtt_us(),
                })
                .collect(),
        })
    }

    async fn events_inner(
        &self,
        request: ListEventsRequest,
    ) -> Result<ListEventsResponse, ColonyError> {
        let window = self.window(
            "window_seconds",
            request.window_seconds,
            DEFAULT_SERIES_WINDOW,
        )?;
        let limit = match request.limit {
            0 => DEFAULT_EVENT_LIMIT,
            l if (1..=MAX_EVENT_LIMIT).contains(&l) => l,
            l => {
                return Err(ColonyError::InvalidArgument(format!(
                    "limit must be between 1 and {MAX_EVENT_LIMIT}, got {l}"
                )));
            }
        };
        let query = EventQuery {
            from: unix_now() - window,
            component: (!request.component.is_empty()).then_some(request.component),
            limit: limit.unsigned_abs(),
        };
        let events = self
            .with_store("list_events", move |store| store.list_events(&query))
            .await?;
        Ok(ListEventsResponse {
            events: events
                .into_iter()
                .map(|event| Event {
                    time: timestamp(event.time),
                    kind: event.kind,
                    component: event.component,
                    namespace: event.namespace,
                    message: event.message,
                })
                .collect(),
        })
    }
}

#[tonic::async_trait]
impl ColonyService for Colony {
    async fn get_status(
        &self,
        _request: Request<GetStatusRequest>,
    ) -> Result<Response<GetStatusResponse>, Status> {
        Ok(Response::new(self.status_inner().await))
    }

    async fn list_agents(
        &self,
        _request: Request<ListAgentsRequest>,
    ) -> Result<Response<ListAgentsResponse>, Status> {
        let agents = self
            .with_store("list_agents", |store| store.list_agents())
            .await?;
        let now = unix_now();
        Ok(Response::new(ListAgentsResponse {
            agents: agents
                .into_iter()
                .map(|agent| self.agent_message(agent, now))
                .collect(),
        }))
    }

    async fn list_components(
        &self,
        request: Request<ListComponentsRequest>,
    ) -> Result<Response<ListComponentsResponse>, Status> {
        let namespace = request.into_inner().namespace;
        let components = self
            .with_store("list_components", move |store| {
                store.list_components((!namespace.is_empty()).then_some(namespace.as_str()))
            })
            .await?;
        let now = unix_now();
        Ok(Response::new(ListComponentsResponse {
            components: components
                .into_iter()
                .map(|c| Component {
                    status: local_components::status(&c, now),
                    name: c.name,
                    namespace: c.namespace,
                    kind: c.kind,
                    version: c.version,
                    pods: i32::try_from(c.pods).unwrap_or(i32::MAX),
                    ready_pods: i32::try_from(c.ready_pods).unwrap_or(i32::MAX),
                    restarts: i32::try_from(c.restarts).unwrap_or(i32::MAX),
                    uptime_seconds: if c.started_at > 0 {
                        now - c.started_at
                    } else {
                        0
                    },
                    ports: c.ports,
                })
                .collect(),
        }))
    }

    async fn get_topology(
        &self,
        request: Request<GetTopologyRequest>,
    ) -> Result<Response<GetTopologyResponse>, Status> {
        Ok(Response::new(
            self.topology_inner(request.into_inner()).await?,
        ))
    }

    async fn query_edge_series(
        &self,
        request: Request<QueryEdgeSeriesRequest>,
    ) -> Result<Response<QueryEdgeSeriesResponse>, Status> {
        Ok(Response::new(
            self.series_inner(request.into_inner()).await?,
        ))
    }

    async fn list_events(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<Response<ListEventsResponse>, Status> {
        Ok(Response::new(
            self.events_inner(request.into_inner()).await?,
        ))
    }
}
