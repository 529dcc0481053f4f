//! Joining a colony's mesh as a spoke, from what the colony's enrollment
//! answer says: the colony's key, WireGuard endpoint and addresses, and this
//! member's own addresses. The node-agent and `coral proxy` both join so.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::config::{
    DEFAULT_IPV6_PREFIX, DEFAULT_KEEPALIVE_SECS, DEFAULT_MTU, MeshConfig, PeerConfig,
};
use coral_mesh_addressing::{CidrError, IpCidr};
use coral_mesh_addressing::{PublicKey, SecretKey};

/// The colony as a spoke sees it, and the spoke's own mesh addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColonyJoin {
    pub colony_key: PublicKey,
    pub colony_endpoint: SocketAddr,
    pub colony_ipv4: Ipv4Addr,
    pub colony_ipv6: Option<Ipv6Addr>,
    /// Prefix of the mesh's IPv4 network: all of it goes through the colony.
    pub prefix: u8,
    pub own_ipv4: Ipv4Addr,
    pub own_ipv6: Option<Ipv6Addr>,
}

impl ColonyJoin {
    /// The spoke's interface: its addresses, a free UDP port, and the colony
    /// as its one peer, kept alive every 25 s.
    pub fn mesh_config(&self, key: SecretKey, interface: &str) -> Result<MeshConfig, CidrError> {
        let mut colony = PeerConfig::new(self.colony_key)
            .allowed_ip(IpCidr::new(self.colony_ipv4.into(), self.prefix)?)
            .endpoint(self.colony_endpoint)
            .persistent_keepalive(DEFAULT_KEEPALIVE_SECS);
        if let Some(v6) = self.colony_ipv6 {
            colony = colony.allowed_ip(IpCidr::new(v6.into(), DEFAULT_IPV6_PREFIX)?);
        }
        Ok(MeshConfig {
            private_key: key,
            interface_name: interface.to_owned(),
            ipv4: Some((self.own_ipv4, self.prefix)),
            ipv6: self.own_ipv6.map(|v6| (v6, DEFAULT_IPV6_PREFIX)),
            listen_port: 0,
            mtu: DEFAULT_MTU,
            peers: vec![colony],
        })
    }
}

/// Resolves a colony's advertised WireGuard endpoint: "host:port", or
/// ":port" (or an unspecified host) meaning the host of `reached_url`, the
/// URL the caller reached the colony through. The error says what is wrong.
pub async fn resolve_endpoint(advertised: &str, reached_url: &str) -> Result<SocketAddr, String> {
    let (host, port) = advertised
        .rsplit_once(':')
        .ok_or_else(|| "no port".to_owned())?;
    let port: u16 = port.parse().map_err(|_| "bad port".to_owned())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let unspecified = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    let host = if host.is_empty() || unspecified {
        url_host(reached_url).ok_or_else(|| format!("no host, and none in {reached_url:?}"))?
    } else {
        host.to_owned()
    };
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))
}

/// The host of `http://host:port/…` (brackets of an IPv6 host removed).
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
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
    async fn an_endpoint_without_host_uses_the_reached_host() {
        let at = |a: &str| a.parse::<SocketAddr>().unwrap();
        let resolved = resolve_endpoint(":41580", "http://127.0.0.2:9000").await;
        assert_eq!(resolved, Ok(at("127.0.0.2:41580")));
        let resolved = resolve_endpoint("0.0.0.0:5", "http://[::1]:9000").await;
        assert_eq!(resolved, Ok(at("[::1]:5")));
        let resolved = resolve_endpoint("10.1.2.3:41580", "http://127.0.0.2:9000").await;
        assert_eq!(resolved, Ok(at("10.1.2.3:41580")));
    }

    #[tokio::test]
    async fn unusable_endpoints_are_refused() {
        for bad in ["41580", "host:port", ":99999"] {
            assert!(
                resolve_endpoint(bad, "http://127.0.0.1:9000")
                    .await
                    .is_err()
            );
        }
        assert!(resolve_endpoint(":1", "not a url/").await.is_err());
    }

    #[test]
    fn config_routes_the_mesh_through_the_colony() {
        let join = ColonyJoin {
            colony_key: SecretKey::generate().public_key(),
            colony_endpoint: "192.0.2.1:41580".parse().unwrap(),
            colony_ipv4: Ipv4Addr::new(10, 42, 0, 1),
            colony_ipv6: None,
            prefix: 16,
            own_ipv4: Ipv4Addr::new(10, 42, 0, 9),
            own_ipv6: None,
        };
        let config = join.mesh_config(SecretKey::generate(), "coral9").unwrap();
        assert_eq!(config.ipv4, Some((Ipv4Addr::new(10, 42, 0, 9), 16)));
        assert_eq!(config.peers.len(), 1);
        assert_eq!(config.peers[0].allowed_ips[0].to_string(), "10.42.0.0/16");
        assert_eq!(config.listen_port, 0);
    }
}
