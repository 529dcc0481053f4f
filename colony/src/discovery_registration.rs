//! Announce the colony to coral-discovery so proxies and agents can find it
//! by id: register at start and every interval so the lease never lapses,
//! retry sooner after a failure, and deregister on a clean shutdown so
//! lookups stop at once.

use std::collections::HashMap;
use std::time::Duration;

use coral_proto::discovery::v1::discovery_service_client::DiscoveryServiceClient;
use coral_proto::discovery::v1::{DeregisterColonyRequest, RegisterColonyRequest};
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};

/// Wait after a failed registration before trying again: short, so a
/// discovery service started after the colony finds it quickly.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// Bound on each call, so a hung discovery never blocks shutdown.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What the colony announces about itself.
#[derive(Debug, Clone)]
pub struct Announcement {
    pub mesh_id: String,
    pub pubkey: String,
    pub endpoints: Vec<String>,
    pub mesh_ipv4: String,
    pub mesh_ipv6: String,
    pub connect_port: u32,
    pub metadata: HashMap<String, String>,
}

impl Announcement {
    fn register_request(&self) -> RegisterColonyRequest {
        RegisterColonyRequest {
            mesh_id: self.mesh_id.clone(),
            pubkey: self.pubkey.clone(),
            endpoints: self.endpoints.clone(),
            mesh_ipv4: self.mesh_ipv4.clone(),
            mesh_ipv6: self.mesh_ipv6.clone(),
            connect_port: self.connect_port,
            metadata: self.metadata.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "invalid --discovery-endpoint {endpoint:?}: {detail}; give a URL like http://localhost:8080"
)]
pub struct EndpointError {
    endpoint: String,
    detail: String,
}

/// Check the endpoint at start-up, so a typo fails fast instead of
/// retrying forever.
pub fn parse_endpoint(endpoint: &str) -> Result<Endpoint, EndpointError> {
    let invalid = |detail: String| EndpointError {
        endpoint: endpoint.to_owned(),
        detail,
    };
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(invalid("it must start with http:// or https://".into()));
    }
    Endpoint::from_shared(endpoint.to_owned())
        .map(|e| e.connect_timeout(CALL_TIMEOUT).timeout(CALL_TIMEOUT))
        .map_err(|e| invalid(e.to_string()))
}

/// Register every `interval` until `stop` turns true, then deregister.
pub async fn run(
    endpoint: Endpoint,
    announcement: Announcement,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    tracing::info!(mesh_id = %announcement.mesh_id, "Starting registration manager");
    // Connects lazily and reconnects by itself after discovery restarts.
    let mut client = DiscoveryServiceClient::new(endpoint.connect_lazy());
    let mut registered = false;
    loop {
        let wait = match client
            .register_colony(announcement.register_request())
            .await
        {
            Ok(response) => {
                let ttl = response.into_inner().ttl;
                if registered {
                    tracing::debug!(ttl_seconds = ttl, "Renewed discovery registration");
                } else {
                    tracing::info!(
                        ttl_seconds = ttl,
                        "Successfully registered with discovery service"
                    );
                }
                registered = true;
                interval
            }
            Err(status) => {
                tracing::warn!(
                    endpoint = %endpoint.uri(),
                    code = ?status.code(),
                    error = %status.message(),
                    retry_in_seconds = RETRY_AFTER_FAILURE.as_secs(),
                    "Failed to register with discovery service; is coral-discovery running \
                     and is --discovery-endpoint right?"
                );
                registered = false;
                RETRY_AFTER_FAILURE.min(interval)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
    }
    if registered {
        deregister(&mut client, &announcement).await;
    }
}

async fn deregister(client: &mut DiscoveryServiceClient<Channel>, announcement: &Announcement) {
    let request = DeregisterColonyRequest {
        mesh_id: announcement.mesh_id.clone(),
        pubkey: announcement.pubkey.clone(),
    };
    match client.deregister_colony(request).await {
        Ok(_) => {
            tracing::info!(mesh_id = %announcement.mesh_id, "Deregistered from discovery service")
        }
        Err(status) => tracing::warn!(
            error = %status.message(),
            "Could not deregister from discovery service; the lease expires by itself"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_needs_a_scheme() {
        assert!(parse_endpoint("http://localhost:8080").is_ok());
        assert!(parse_endpoint("https://discovery.example.com").is_ok());
        let error = parse_endpoint("localhost:8080").unwrap_err().to_string();
        assert!(error.contains("http://"), "{error}");
    }
}
