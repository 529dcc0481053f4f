//! Everything the discovery port serves: the DiscoveryService over gRPC and
//! Connect-JSON, gRPC reflection, probes and metrics.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use coral_proto::discovery::v1::discovery_service_server::{
    DiscoveryService, DiscoveryServiceServer, SERVICE_NAME,
};
use coral_rpc::{ConnectRouter, ConnectService, DEFAULT_BODY_LIMIT};
use coral_telemetry::{MetricsSource, ProbeBodies, Probes};

use crate::health_json::HealthJson;
use crate::service::Discovery;

#[derive(Debug, thiserror::Error)]
#[error("failed to build gRPC reflection from the embedded descriptors: {0}")]
pub struct ReflectionError(#[from] tonic_reflection::server::Error);

/// Registers one RPC as a Connect-JSON unary route calling the trait method.
macro_rules! unary {
    ($router:expr, $discovery:expr, $name:literal, $method:ident) => {{
        let discovery = $discovery.clone();
        $router.unary(&format!("/{SERVICE_NAME}/{}", $name), move |request| {
            let discovery = discovery.clone();
            async move { discovery.$method(request).await }
        })
    }};
}

/// Build the service for one port. `ready` turns `/readyz` to 503 when
/// shutdown starts, so load balancers drain us first.
pub fn build(
    discovery: Discovery,
    ready: Arc<AtomicBool>,
) -> Result<ConnectService, ReflectionError> {
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(coral_proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(coral_proto::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let grpc = DiscoveryServiceServer::new(discovery.clone())
        .max_decoding_message_size(DEFAULT_BODY_LIMIT);

    let for_metrics = discovery.clone();
    let operations = Probes::new(
        ProbeBodies::UNTIL_SHUTDOWN,
        ready,
        MetricsSource::from_fn(move || for_metrics.render_metrics()),
    )
    .router();
    let for_rejections = discovery.clone();

    let router = ConnectRouter::new()
        .body_limit(DEFAULT_BODY_LIMIT)
        .on_rejection(move |rejection| for_rejections.metrics().rejected(rejection.as_label()))
        .grpc(grpc)
        .grpc(reflection_v1)
        .grpc(reflection_v1alpha)
        .routes(operations);
    let router = unary!(router, discovery, "RegisterColony", register_colony);
    let router = unary!(router, discovery, "DeregisterColony", deregister_colony);
    let router = unary!(router, discovery, "LookupColony", lookup_colony);
    let router = unary!(router, discovery, "RegisterAgent", register_agent);
    let router = unary!(router, discovery, "LookupAgent", lookup_agent);
    let for_health = discovery.clone();
    let router = router.unary(&format!("/{SERVICE_NAME}/Health"), move |request| {
        let discovery = for_health.clone();
        async move {
            let response = discovery.health(request).await?;
            Ok(response.map(HealthJson::from))
        }
    });
    Ok(router.into_service())
}
