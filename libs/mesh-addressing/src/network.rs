//! The networks a colony hands mesh addresses out of. Host number 1 is the
//! colony; agents get 2, 3, … in enrollment order. The same host number
//! picks the member's address in both families, so one number names a peer.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cidr::IpCidr;

/// The IPv4 mesh network when none is configured.
pub const DEFAULT_IPV4_CIDR: &str = "10.42.0.0/16";
/// The IPv6 mesh network when none is configured.
pub const DEFAULT_IPV6_CIDR: &str = "fd42::/64";

/// IPv4 prefix lengths a mesh may use: /8 is the largest block worth routing
/// through one colony, /30 the smallest that still leaves the colony and one
/// agent an address (a /31 or /32 has no room for both).
pub const IPV4_PREFIXES: RangeInclusive<u8> = 8..=30;

/// The IPv6 mesh is always a /64: members route the colony's whole /64
/// through the tunnel, and every IPv4 host number fits in its host part.
pub const IPV6_PREFIX: u8 = 64;

/// Why a mesh network was refused; the message names the accepted shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error(
        "{0:?} is not an IPv4 mesh network: use an IPv4 CIDR with a prefix from /8 to /30, such as 10.42.0.0/16"
    )]
    Ipv4(String),
    #[error("{0:?} is not an IPv6 mesh network: use an IPv6 /64, such as fd42::/64")]
    Ipv6(String),
}

/// An IPv4 mesh network (`10.42.0.0/16`), host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MeshIpv4Cidr {
    base: u32,
    prefix: u8,
}

impl MeshIpv4Cidr {
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base)
    }

    /// Highest host number a member can get (the broadcast address is
    /// never handed out).
    pub fn max_host(&self) -> u32 {
        let size = 1u64 << (32 - u32::from(self.prefix));
        u32::try_from(size.saturating_sub(2)).unwrap_or(u32::MAX)
    }

    /// Address of host number `host` (1 is the colony).
    pub fn host(&self, host: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base.wrapping_add(host))
    }

    pub fn contains(&self, address: Ipv4Addr) -> bool {
        u32::from(address) & mask(self.prefix) == self.base
    }

    /// Whether the two networks share any address.
    pub fn overlaps(&self, other: &MeshIpv4Cidr) -> bool {
        let shorter = self.prefix.min(other.prefix);
        self.base & mask(shorter) == other.base & mask(shorter)
    }

    /// The block as a general CIDR (for routes and allowed IPs).
    pub fn to_cidr(&self) -> IpCidr {
        IpCidr::new(self.network().into(), self.prefix)
            .expect("a mesh prefix is at most 30 bits, valid for IPv4")
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for MeshIpv4Cidr {
    type Err = NetworkError;

    fn from_str(text: &str) -> Result<Self, NetworkError> {
        let bad = || NetworkError::Ipv4(text.to_owned());
        let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
        let address: Ipv4Addr = address.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if !IPV4_PREFIXES.contains(&prefix) {
            return Err(bad());
        }
        Ok(Self {
            base: u32::from(address) & mask(prefix),
            prefix,
        })
    }
}

impl Default for MeshIpv4Cidr {
    fn default() -> Self {
        DEFAULT_IPV4_CIDR
            .parse()
            .expect("the default IPv4 mesh network parses")
    }
}

impl fmt::Display for MeshIpv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

/// An IPv6 mesh network, always a /64 (`fd42::/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MeshIpv6Cidr {
    base: u128,
}

impl MeshIpv6Cidr {
    pub fn prefix(&self) -> u8 {
        IPV6_PREFIX
    }

    pub fn network(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.base)
    }

    /// Address of host number `host` (1 is the colony).
    pub fn host(&self, host: u32) -> Ipv6Addr {
        Ipv6Addr::from(self.base + u128::from(host))
    }
}

impl FromStr for MeshIpv6Cidr {
    type Err = NetworkError;

    fn from_str(text: &str) -> Result<Self, NetworkError> {
        let bad = || NetworkError::Ipv6(text.to_owned());
        let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
        let address: Ipv6Addr = address.parse().map_err(|_| bad())?;
        if prefix.parse::<u8>().map_err(|_| bad())? != IPV6_PREFIX {
            return Err(bad());
        }
        Ok(Self {
            base: u128::from(address) & (u128::MAX << (128 - u32::from(IPV6_PREFIX))),
        })
    }
}

impl Default for MeshIpv6Cidr {
    fn default() -> Self {
        DEFAULT_IPV6_CIDR
            .parse()
            .expect("the default IPv6 mesh network parses")
    }
}

impl fmt::Display for MeshIpv6Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), IPV6_PREFIX)
    }
}

/// Serialized as the CIDR text, so configuration files read naturally and
/// a bad value is refused while the file is parsed.
macro_rules! serde_as_text {
    ($type:ty) => {
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_as_text!(MeshIpv4Cidr);
serde_as_text!(MeshIpv6Cidr);

/// Both families of a colony's mesh: host n is `ipv4(n)` and `ipv6(n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MeshNetwork {
    pub ipv4: MeshIpv4Cidr,
    pub ipv6: MeshIpv6Cidr,
}

impl MeshNetwork {
    pub fn new(ipv4: MeshIpv4Cidr, ipv6: MeshIpv6Cidr) -> Self {
        Self { ipv4, ipv6 }
    }

    /// Highest host number an agent can get (bounded by the IPv4 network,
    /// the smaller of the two).
    pub fn max_host(&self) -> u32 {
        self.ipv4.max_host()
    }

    pub fn ipv4(&self, host: u32) -> Ipv4Addr {
        self.ipv4.host(host)
    }

    pub fn ipv6(&self, host: u32) -> Ipv6Addr {
        self.ipv6.host(host)
    }

    pub fn colony_ipv4(&self) -> Ipv4Addr {
        self.ipv4(1)
    }

    pub fn colony_ipv6(&self) -> Ipv6Addr {
        self.ipv6(1)
    }

    /// Prefix length of the IPv4 network (16 for 10.42.0.0/16).
    pub fn prefix(&self) -> u8 {
        self.ipv4.prefix()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_network_hands_out_the_documented_addresses() {
        let mesh = MeshNetwork::default();
        assert_eq!(mesh.colony_ipv4(), Ipv4Addr::new(10, 42, 0, 1));
        assert_eq!(mesh.ipv4(2), Ipv4Addr::new(10, 42, 0, 2));
        assert_eq!(mesh.ipv4(256), Ipv4Addr::new(10, 42, 1, 0));
        assert_eq!(mesh.max_host(), 65_534);
        assert_eq!(mesh.colony_ipv6().to_string(), "fd42::1");
        assert_eq!(mesh.prefix(), 16);
    }

    #[test]
    fn parses_and_masks_ipv4_networks() {
        let net: MeshIpv4Cidr = "10.9.8.7/24".parse().unwrap();
        assert_eq!(net.to_string(), "10.9.8.0/24");
        assert_eq!(net.host(5), Ipv4Addr::new(10, 9, 8, 5));
        assert_eq!(net.max_host(), 254);
        assert_eq!("10.0.0.0/30".parse::<MeshIpv4Cidr>().unwrap().max_host(), 2);
        for bad in [
            "10.42.0.0",
            "10.42.0.0/31",
            "10.42.0.0/32",
            "10.0.0.0/7",
            "x/16",
            "10.42.0.0/abc",
            "fd42::/64",
        ] {
            let error = bad.parse::<MeshIpv4Cidr>().unwrap_err().to_string();
            assert!(error.contains("/8 to /30"), "{bad}: {error}");
        }
    }

    #[test]
    fn ipv6_networks_are_slash_64() {
        let net: MeshIpv6Cidr = "fd43:1::9/64".parse().unwrap();
        assert_eq!(net.to_string(), "fd43:1::/64");
        assert_eq!(net.host(2).to_string(), "fd43:1::2");
        for bad in ["fd42::/48", "fd42::/96", "fd42::", "10.0.0.0/64"] {
            assert!(bad.parse::<MeshIpv6Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn overlap_is_symmetric_and_exact() {
        let a: MeshIpv4Cidr = "10.42.0.0/16".parse().unwrap();
        let inside: MeshIpv4Cidr = "10.42.7.0/24".parse().unwrap();
        let beside: MeshIpv4Cidr = "10.43.0.0/16".parse().unwrap();
        assert!(a.overlaps(&inside) && inside.overlaps(&a));
        assert!(!a.overlaps(&beside) && !beside.overlaps(&a));
        assert!(a.contains(Ipv4Addr::new(10, 42, 255, 1)));
        assert!(!a.contains(Ipv4Addr::new(10, 43, 0, 1)));
    }

    #[test]
    fn serializes_as_text_and_refuses_bad_text() {
        let net: MeshIpv4Cidr = serde_json::from_str("\"10.50.0.0/16\"").unwrap();
        assert_eq!(serde_json::to_string(&net).unwrap(), "\"10.50.0.0/16\"");
        let error = serde_json::from_str::<MeshIpv4Cidr>("\"10.50.0.0/31\"").unwrap_err();
        assert!(error.to_string().contains("/8 to /30"), "{error}");
    }
}
