//! The agent's link through the WireGuard mesh. Enrollment goes to the
//! colony's connect endpoint (the token proves the agent); the answer holds
//! the colony's key, its WireGuard endpoint and this agent's mesh addresses.
//! The agent then brings up its end of the tunnel and sends heartbeats and
//! flow batches to the colony's mesh address, the only place the colony
//! takes them. A colony started with `--no-mesh` sends no key: then every
//! call goes to the connect endpoint.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use coral_mesh::{
    DEFAULT_IPV6_PREFIX, DEFAULT_KEEPALIVE_SECS, DEFAULT_MTU, IpCidr, MeshConfig, MeshInterface,
    PeerConfig, PublicKey, SecretKey,
};
use coral_proto::agent::v1::{
    EnrollRequest, EnrollResponse, FlowBatch, HeartbeatRequest, HeartbeatResponse,
    ReportFlowsResponse,
};
use tonic::Status;

use super::link::{ColonyLink, GrpcLink};
use crate::metrics::Metrics;

pub struct MeshLink {
    /// The connect endpoint: enrollment, and everything without a mesh.
    public: GrpcLink,
    colony_url: String,
    key: SecretKey,
    interface_name: String,
    call_timeout: Duration,
    tunnel: Option<Tunnel>,
    metrics: Arc<Metrics>,
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
    colony_key: PublicKey,
    colony_endpoint: SocketAddr,
    colony_ipv4: Ipv4Addr,
    colony_ipv6: Option<Ipv6Addr>,
    prefix: u8,
    own_ipv4: Ipv4Addr,
    own_ipv6: Option<Ipv6Addr>,
    connect_port: u16,
}

impl MeshLink {
    pub fn new(
        public: GrpcLink,
        colony_url: &str,
        key: SecretKey,
        interface_name: &str,
        call_timeout: Duration,
        metrics: Arc<Metrics>,
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
        let hub = PeerConfig::new(plan.colony_key)
            .allowed_ip(cidr(plan.colony_ipv4.into(), plan.prefix)?)
            .endpoint(plan.colony_endpoint)
            .persistent_keepalive(DEFAULT_KEEPALIVE_SECS);
        let hub = match plan.colony_ipv6 {
            Some(v6) => hub.allowed_ip(cidr(v6.into(), DEFAULT_IPV6_PREFIX)?),
            None => hub,
        };
        let config = MeshConfig {
            private_key: self.key.clone(),
            interface_name: self.interface_name.clone(),
            ipv4: Some((plan.own_ipv4, plan.prefix)),
            ipv6: plan.own_ipv6.map(|v6| (v6, DEFAULT_IPV6_PREFIX)),
            listen_port: 0,
            mtu: DEFAULT_MTU,
            peers: vec![hub],
        };
        let interface = MeshInterface::start(config).await.map_err(|error| {
            Status::unavailable(format!("cannot join the colony's mesh: {error}"))
        })?;
        let url = format!("http://{}:{}", plan.colony_ipv4, plan.connect_port);
        let link = GrpcLink::new(&url, self.call_timeout)
            .map_err(|error| Status::internal(error.to_string()))?;
        tracing::info!(
            interface = %self.interface_name,
            mesh_ipv4 = %plan.own_ipv4,
            colony = %url,
            colony_endpoint = %plan.colony_endpoint,
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

fn cidr(addr: IpAddr, prefix: u8) -> Result<IpCidr, Status> {
    IpCidr::new(addr, prefix)
        .map_err(|e| Status::internal(format!("the colony sent a bad mesh network: {e}")))
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
    let colony_endpoint = resolve_endpoint(&response.colony_endpoint, colony_url).await?;
    Ok(TunnelPlan {
        colony_key,
        colony_endpoint,
        colony_ipv4,
        colony_ipv6,
        prefix,
        own_ipv4,
        own_ipv6,
        connect_port,
    })
}

/// "host:port", or ":port" meaning the host of the connect endpoint the
/// agent enrolled through (the colony does not always know its own name).
async fn resolve_endpoint(advertised: &str, colony_url: &str) -> Result<SocketAddr, Status> {
    let unusable = |detail: String| {
        Status::unavailable(format!(
            "cannot use the colony's WireGuard endpoint {advertised:?}: {detail}; set the \
             colony's --public-endpoint (CORAL_PUBLIC_ENDPOINT) to an address agents reach"
        ))
    };
    let (host, port) = advertised
        .rsplit_once(':')
        .ok_or_else(|| unusable("no port".into()))?;
    let port: u16 = port.parse().map_err(|_| unusable("bad port".into()))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let unspecified = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    let host = if host.is_empty() || unspecified {
        enrolled_host(colony_url).ok_or_else(|| {
            unusable(format!(
                "no host, and none in --colony-endpoint {colony_url:?}"
            ))
        })?
    } else {
        host.to_owned()
    };
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| unusable(format!("cannot resolve {host}: {e}")))?
        .next()
        .ok_or_else(|| unusable(format!("{host} has no address")))
}

fn enrolled_host(colony_url: &str) -> Option<String> {
    let rest = colony_url
        .split_once("://")
        .map_or(colony_url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next()?,
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    };
    (!host.is_empty()).then(|| host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_endpoint_without_host_uses_the_enrollment_host() {
        let addr = resolve_endpoint(":41580", "http://127.0.0.2:9000")
            .await
            .unwrap();
        assert_eq!(addr, "127.0.0.2:41580".parse().unwrap());
        let addr = resolve_endpoint("0.0.0.0:5", "http://[::1]:9000")
            .await
            .unwrap();
        assert_eq!(addr, "[::1]:5".parse().unwrap());
        let addr = resolve_endpoint("10.1.2.3:41580", "http://127.0.0.2:9000")
            .await
            .unwrap();
        assert_eq!(addr, "10.1.2.3:41580".parse().unwrap());
    }

    #[tokio::test]
    async fn unusable_endpoints_say_what_to_set() {
        for bad in ["41580", "host:port", ":99999"] {
            let error = resolve_endpoint(bad, "http://127.0.0.1:9000")
                .await
                .unwrap_err();
            assert!(error.message().contains("--public-endpoint"), "{error:?}");
        }
    }

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
        assert_eq!(plan.own_ipv4, Ipv4Addr::new(10, 42, 0, 7));
        assert_eq!(plan.colony_endpoint, "127.0.0.1:41580".parse().unwrap());
        assert_eq!(plan.prefix, 16);
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
