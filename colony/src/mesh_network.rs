//! Mesh addresses: host number n of the mesh CIDR (1 is the colony).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeshNetwork {
    base: u32,
    prefix: u8,
}

/// Fixed IPv6 mesh prefix (`fd42::/64`); host n gets `fd42::n`.
const IPV6_BASE: u128 = 0xfd42_u128 << 112;

impl MeshNetwork {
    /// Highest usable host number (the broadcast address is skipped).
    pub fn max_host(&self) -> u32 {
        let size = 1u64 << (32 - u32::from(self.prefix));
        u32::try_from(size.saturating_sub(2)).unwrap_or(u32::MAX)
    }

    pub fn ipv4(&self, host: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base.wrapping_add(host))
    }

    pub fn ipv6(&self, host: u32) -> Ipv6Addr {
        Ipv6Addr::from(IPV6_BASE + u128::from(host))
    }

    pub fn colony_ipv4(&self) -> Ipv4Addr {
        self.ipv4(1)
    }

    pub fn colony_ipv6(&self) -> Ipv6Addr {
        self.ipv6(1)
    }

    /// Prefix length of the IPv4 network (16 for 10.42.0.0/16).
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

impl FromStr for MeshNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let usage = || format!("{text:?} is not an IPv4 CIDR such as 10.42.0.0/16 (prefix 8..=30)");
        let (address, prefix) = text.split_once('/').ok_or_else(usage)?;
        let address: Ipv4Addr = address.parse().map_err(|_| usage())?;
        let prefix: u8 = prefix.parse().map_err(|_| usage())?;
        if !(8..=30).contains(&prefix) {
            return Err(usage());
        }
        let mask = u32::MAX << (32 - u32::from(prefix));
        Ok(MeshNetwork {
            base: u32::from(address) & mask,
            prefix,
        })
    }
}

impl Default for MeshNetwork {
    fn default() -> Self {
        MeshNetwork {
            base: u32::from(Ipv4Addr::new(10, 42, 0, 0)),
            prefix: 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_network_is_10_42_0_0_16_with_the_colony_at_1() {
        let mesh = MeshNetwork::default();
        assert_eq!(mesh.colony_ipv4(), Ipv4Addr::new(10, 42, 0, 1));
        assert_eq!(mesh.ipv4(2), Ipv4Addr::new(10, 42, 0, 2));
        assert_eq!(mesh.ipv4(256), Ipv4Addr::new(10, 42, 1, 0));
        assert_eq!(mesh.max_host(), 65_534);
        assert_eq!(mesh.ipv6(1).to_string(), "fd42::1");
    }

    #[test]
    fn parses_and_masks_cidrs() {
        let mesh: MeshNetwork = "10.9.8.7/24".parse().unwrap();
        assert_eq!(mesh.ipv4(5), Ipv4Addr::new(10, 9, 8, 5));
        assert_eq!(mesh.max_host(), 254);
        for bad in ["10.42.0.0", "10.42.0.0/31", "x/16", "10.42.0.0/abc"] {
            assert!(bad.parse::<MeshNetwork>().is_err(), "{bad}");
        }
    }
}
