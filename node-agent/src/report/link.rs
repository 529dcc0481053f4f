//! The agent's connection to its colony's AgentService: plain gRPC to one
//! endpoint here; [`super::MeshLink`] puts it inside the WireGuard mesh.
//! The reporter only sees [`ColonyLink`].

use std::future::Future;
use std::time::Duration;

use coral_proto::agent::v1::agent_service_client::AgentServiceClient;
use coral_proto::agent::v1::{
    EnrollRequest, EnrollResponse, FlowBatch, HeartbeatRequest, HeartbeatResponse,
    ReportFlowsResponse,
};
use tonic::Status;
use tonic::transport::{Channel, Endpoint};

/// The three AgentService calls.
pub trait ColonyLink: Send + 'static {
    fn enroll(
        &mut self,
        request: EnrollRequest,
    ) -> impl Future<Output = Result<EnrollResponse, Status>> + Send;
    fn heartbeat(
        &mut self,
        request: HeartbeatRequest,
    ) -> impl Future<Output = Result<HeartbeatResponse, Status>> + Send;
    fn report(
        &mut self,
        batch: FlowBatch,
    ) -> impl Future<Output = Result<ReportFlowsResponse, Status>> + Send;
}

/// AgentService over gRPC (HTTP/2) to `endpoint`, e.g. `http://10.42.0.1:9000`.
#[derive(Clone)]
pub struct GrpcLink {
    client: AgentServiceClient<Channel>,
}

#[derive(Debug, thiserror::Error)]
#[error("bad colony endpoint {endpoint:?}: {source}; expected e.g. http://10.42.0.1:9000")]
pub struct EndpointError {
    endpoint: String,
    #[source]
    source: tonic::transport::Error,
}

impl GrpcLink {
    /// Connects lazily: the first call dials, a broken connection is redialed
    /// on the next call.
    pub fn new(endpoint: &str, call_timeout: Duration) -> Result<Self, EndpointError> {
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|source| EndpointError {
                endpoint: endpoint.to_owned(),
                source,
            })?
            .connect_timeout(Duration::from_secs(3))
            .timeout(call_timeout)
            .http2_keep_alive_interval(Duration::from_secs(20))
            .connect_lazy();
        Ok(Self {
            client: AgentServiceClient::new(channel),
        })
    }
}

impl ColonyLink for GrpcLink {
    async fn enroll(&mut self, request: EnrollRequest) -> Result<EnrollResponse, Status> {
        Ok(self.client.enroll(request).await?.into_inner())
    }

    async fn heartbeat(&mut self, request: HeartbeatRequest) -> Result<HeartbeatResponse, Status> {
        Ok(self.client.heartbeat(request).await?.into_inner())
    }

    async fn report(&mut self, batch: FlowBatch) -> Result<ReportFlowsResponse, Status> {
        Ok(self.client.report_flows(batch).await?.into_inner())
    }
}
