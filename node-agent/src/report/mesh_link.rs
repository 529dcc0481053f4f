//! The agent's link through the WireGuard mesh. Enrollment goes to the
//! colony's connect endpoint (the token proves the agent); the answer holds
//! the colony's key, its WireGuard endpoint and this agent's mesh addresses.
//! The agent then brings up its end of the tunnel and sends heartbeats and
//! flow batches to the colony's mesh address, the only place the colony
//! takes them. A colony started with `--no-mesh` sends no key: then every
//! call goes to the connect endpoint.

use std::net::Ipv4Addr;
use std::time::Duration;

use coral_mesh::{ColonyJoin, MeshInterface, PublicKey, SecretKey, resolve_endpoint};
use coral_proto::agent::v1::{
    EnrollRequest, EnrollResponse, FlowBatch, HeartbeatRequest, HeartbeatResponse,
    ReportFlowsResponse,
};
use tonic::Status;

use super::link::{ColonyLink, GrpcLink};
use crate::metrics::ColonyMetrics;

pub struct MeshLink {
    /// The connect endpoint: enrollment, and everything without a mesh.
    public: GrpcLink,
    colony_url: String,
    key: SecretKey,
    interface_name: String,
    call_timeout: Duration,
    tunnel: Option<Tunnel>,
    metrics: ColonyMetrics,
}

/// The running tunnel and what it was built from.
struct Tunnel {
    interface: MeshInterface,
    plan: TunnelPlan,
    link: GrpcLink,
}

/// Everything in an enrollment answer that shapes the tunnel; a new answer
/// that differs (colony key, addresses, endpoint) rebuilds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TunnelPlan {
    join: ColonyJoin,
    connect_port: u16,
}

impl MeshLink {
    pub fn new(
        public: GrpcLink,
        colony_url: &str,
        key: SecretKey,
        interface_name: &str,
        call_timeout: Duration,
        metrics: ColonyMetrics,
    ) -> Self {
        Self {
            public,
            colony_url: colony_url.to_owned(),
            key,
            interface_name: interface_name.to_owned(),
            call_timeout,
            tunnel: None,
            metrics,
        }
    }

    /// Takes the tunnel down (its TUN device and routes go with it).
    pub async fn close(mut self) {
        if let Some(tunnel) = self.tunnel.take() {
            let _ = tunnel.interface.shutdown().await;
        }
        self.metrics.mesh_up.set(0);
    }

    /// `mesh_up` and the handshake age, from the tunnel's counters.
    async fn refresh_metrics(&self) {
        let age = match &self.tunnel {
            Some(tunnel) => tunnel
                .interface
                .stats()
                .await
                .ok()
                .and_then(|stats| stats.peers.first().and_then(|p| p.last_handshake_age)),
            None => None,
        };
        self.metrics.mesh_up.set(i64::from(age.is_some()));
        let seconds = age.map_or(0, |age| i64::try_from(age.as_secs()).unwrap_or(i64::MAX));
        self.metrics.mesh_handshake_age_seconds.set(seconds);
    }

    /// Where heartbeats and batches go now.
    fn reporting_link(&mut self) -> &mut GrpcLink {
        match &mut self.tunnel {
            Some(tunnel) => &mut tunnel.link,
            None => &mut self.public,
        }
    }

    async fn join(&mut self, response: &EnrollResponse) -> Result<(), Status> {
        if response.colony_pubkey.is_empty() {
            if let Some(tunnel) = self.tunnel.take() {
                let _ = tunnel.interface.shutdown().await;
            }
            tracing::warn!(
                "the colony runs without a mesh: reporting unencrypted to {}",
                self.colony_url
            );
            return Ok(());
        }
        let plan = plan(response, &self.colony_url).await?;
        if self.tunnel.as_ref().is_some_and(|t| t.plan == plan) {
            return Ok(());
        }
        if let Some(old) = self.tunnel.take() {
            let _ = old.interface.shutdown().await;
        }
        let config = plan
            .join
            .mesh_config(self.key.clone(), &self.interface_name)
            .map_err(|e| Status::internal(format!("the colony sent a bad mesh network: {e}")))?;
        let interface = MeshInterface::start(config).await.map_err(|error| {
            Status::unavailable(format!("cannot join the colony's mesh: {error}"))
        })?;
        let url = format!("http://{}:{}", plan.join.colony_ipv4, plan.connect_port);
        let link = GrpcLink::new(&url, self.call_timeout)
            .map_err(|error| Status::internal(error.to_string()))?;
        tracing::info!(
            interface = %self.interface_name,
            mesh_ipv4 = %plan.join.own_ipv4,
            colony = %url,
            colony_endpoint = %plan.join.colony_endpoint,
            "joined the colony's mesh; reporting through the tunnel"
        );
        self.tunnel = Some(Tunnel {
            interface,
            plan,
            link,
        });
        Ok(())
    }
}

impl ColonyLink for MeshLink {
    async fn enroll(&mut self, request: EnrollRequest) -> Result<EnrollResponse, Status> {
        let response = self.public.enroll(request).await?;
        self.join(&response).await?;
        Ok(response)
    }

    async fn heartbeat(&mut self, request: HeartbeatRequest) -> Result<HeartbeatResponse, Status> {
        let result = self.reporting_link().heartbeat(request).await;
        self.refresh_metrics().await;
        result
    }

    async fn report(&mut self, batch: FlowBatch) -> Result<ReportFlowsResponse, Status> {
        self.reporting_link().report(batch).await
    }
}

/// Reads the tunnel's shape out of an enrollment answer.
async fn plan(response: &EnrollResponse, colony_url: &str) -> Result<TunnelPlan, Status> {
    let bad = |field: &str, detail: String| {
        Status::internal(format!(
            "the colony's enrollment answer has a bad {field} ({detail}); is the colony \
             the same version as this agent?"
        ))
    };
    let colony_key: PublicKey = response
        .colony_pubkey
        .parse()
        .map_err(|e| bad("colonyPubkey", format!("{e}")))?;
    let parse_v4 = |field: &str, text: &str| {
        text.parse::<Ipv4Addr>()
            .map_err(|_| bad(field, format!("{text:?}")))
    };
    let own_ipv4 = parse_v4("meshIpv4", &response.mesh_ipv4)?;
    let colony_ipv4 = parse_v4("colonyMeshIpv4", &response.colony_mesh_ipv4)?;
    // IPv6 is a bonus: the agent reports over IPv4.
    let own_ipv6 = response.mesh_ipv6.parse().ok();
    let colony_ipv6 = response.colony_mesh_ipv6.parse().ok();
    let prefix = u8::try_from(response.mesh_ipv4_prefix)
        .ok()
        .filter(|p| (8..=30).contains(p))
        .ok_or_else(|| bad("meshIpv4Prefix", response.mesh_ipv4_prefix.to_string()))?;
    let connect_port = u16::try_from(response.connect_port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| bad("connectPort", response.connect_port.to_string()))?;
    let colony_endpoint = resolve_endpoint(&response.colony_endpoint, colony_url)
        .await
        .map_err(|detail| {
            Status::unavailable(format!(
                "cannot use the colony's WireGuard endpoint {:?}: {detail}; set the colony's \
                 --public-endpoint (CORAL_PUBLIC_ENDPOINT) to an address agents reach",
                response.colony_endpoint
            ))
        })?;
    Ok(TunnelPlan {
        join: ColonyJoin {
            colony_key,
            colony_endpoint,
            colony_ipv4,
            colony_ipv6,
            prefix,
            own_ipv4,
            own_ipv6,
        },
        connect_port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_plan_needs_a_key_and_addresses() {
        let key = SecretKey::generate().public_key().to_base64();
        let mut response = EnrollResponse {
            mesh_ipv4: "10.42.0.7".into(),
            mesh_ipv6: "fd42::7".into(),
            colony_pubkey: key,
            colony_mesh_ipv4: "10.42.0.1".into(),
            colony_mesh_ipv6: "fd42::1".into(),
            connect_port: 9000,
            last_sequence: 0,
            colony_endpoint: ":41580".into(),
            mesh_ipv4_prefix: 16,
        };
        let plan = plan(&response, "http://127.0.0.1:9000").await.unwrap();
        assert_eq!(plan.join.own_ipv4, Ipv4Addr::new(10, 42, 0, 7));
        assert_eq!(
            plan.join.colony_endpoint,
            "127.0.0.1:41580".parse().unwrap()
        );
        assert_eq!(plan.join.prefix, 16);
        response.colony_endpoint = "41580".into();
        assert!(plan_fails(&response).await.contains("--public-endpoint"));
        response.colony_endpoint = ":41580".into();
        response.mesh_ipv4_prefix = 0;
        assert!(plan_fails(&response).await.contains("meshIpv4Prefix"));
        response.mesh_ipv4_prefix = 16;
        response.colony_pubkey = "not a key".into();
        assert!(plan_fails(&response).await.contains("colonyPubkey"));
    }

    async fn plan_fails(response: &EnrollResponse) -> String {
        plan(response, "http://127.0.0.1:9000")
            .await
            .unwrap_err()
            .message()
            .to_owned()
    }
}
