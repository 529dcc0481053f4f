//! Everything the connect port serves: AgentService and ColonyService over
//! gRPC and Connect-JSON, gRPC reflection, probes and metrics.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use coral_proto::agent::v1::agent_service_server::{
    AgentService, AgentServiceServer, SERVICE_NAME as AGENT_SERVICE,
};
use coral_proto::colony::v1::colony_service_server::{
    ColonyService, ColonyServiceServer, SERVICE_NAME as COLONY_SERVICE,
};
use coral_rpc::{ConnectRouter, ConnectService};
use coral_telemetry::{MetricsSource, ProbeBodies, Probes};

use crate::service::Colony;

/// Largest request: a full flow batch in JSON fits with room to spare.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("failed to build gRPC reflection from the embedded descriptors: {0}")]
pub struct ReflectionError(#[from] tonic_reflection::server::Error);

/// Registers RPCs of one service as Connect-JSON unary routes calling the
/// trait methods.
macro_rules! unary {
    ($router:expr, $colony:expr, $service:expr, $trait:ident, [$(($name:literal, $method:ident)),+ $(,)?]) => {{
        let mut router = $router;
        $(
            let colony = $colony.clone();
            router = router.unary(&format!("/{}/{}", $service, $name), move |request| {
                let colony = colony.clone();
                async move { $trait::$method(&colony, request).await }
            });
        )+
        router
    }};
}

/// Build the service for the connect port. `ready` turns `/readyz` to 503
/// once shutdown starts.
pub fn build(colony: Colony, ready: Arc<AtomicBool>) -> Result<ConnectService, ReflectionError> {
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(coral_proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let agents = AgentServiceServer::new(colony.clone()).max_decoding_message_size(BODY_LIMIT);
    let users = ColonyServiceServer::new(colony.clone()).max_decoding_message_size(BODY_LIMIT);

    let for_metrics = colony.clone();
    let operations = Probes::new(
        ProbeBodies::UNTIL_SHUTDOWN,
        ready,
        MetricsSource::from_fn(move || for_metrics.metrics().encode()),
    )
    .router();

    let router = ConnectRouter::new()
        .body_limit(BODY_LIMIT)
        .grpc(agents)
        .grpc(users)
        .grpc(reflection)
        .routes(operations);
    let router = unary!(
        router,
        colony,
        AGENT_SERVICE,
        AgentService,
        [
            ("Enroll", enroll),
            ("Heartbeat", heartbeat),
            ("ReportFlows", report_flows),
        ]
    );
    let router = unary!(
        router,
        colony,
        COLONY_SERVICE,
        ColonyService,
        [
            ("GetStatus", get_status),
            ("ListAgents", list_agents),
            ("ListComponents", list_components),
            ("GetTopology", get_topology),
            ("QueryEdgeSeries", query_edge_series),
            ("ListEvents", list_events),
        ]
    );
    Ok(router.into_service())
}
