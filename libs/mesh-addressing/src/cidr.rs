//! An address block (`10.42.0.2/32`, `fd42::/64`): a route or the allowed
//! IPs of a peer. Any prefix length is valid here; [`crate::MeshNetwork`]
//! holds the narrower rules for the networks a colony hands out.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpCidr {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an address block such as 10.42.0.2/32 or fd42::/64")]
pub struct CidrError(String);

impl IpCidr {
    /// The block of `prefix` bits around `addr` (host bits are cleared).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(CidrError(format!("{addr}/{prefix}")));
        }
        let addr = match addr {
            IpAddr::V4(a) => Ipv4Addr::from(u32::from(a) & mask32(prefix)).into(),
            IpAddr::V6(a) => Ipv6Addr::from(u128::from(a) & mask128(prefix)).into(),
        };
        Ok(Self { addr, prefix })
    }

    /// A single address (/32 or /128).
    pub fn host(addr: IpAddr) -> Self {
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Self { addr, prefix }
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn is_host(&self) -> bool {
        self.prefix == if self.addr.is_ipv4() { 32 } else { 128 }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl From<IpAddr> for IpCidr {
    fn from(addr: IpAddr) -> Self {
        Self::host(addr)
    }
}

impl FromStr for IpCidr {
    type Err = CidrError;
    /// `addr/prefix`, or a bare address meaning that one host.
    fn from_str(text: &str) -> Result<Self, CidrError> {
        let bad = || CidrError(text.to_string());
        match text.split_once('/') {
            None => text.parse().map(Self::host).map_err(|_| bad()),
            Some((addr, prefix)) => {
                let addr = addr.parse().map_err(|_| bad())?;
                let prefix = prefix.parse().map_err(|_| bad())?;
                Self::new(addr, prefix).map_err(|_| bad())
            }
        }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_matches() {
        let net: IpCidr = "10.42.7.9/16".parse().unwrap();
        assert_eq!(net.to_string(), "10.42.0.0/16");
        assert!(net.contains(ip("10.42.255.1")));
        assert!(!net.contains(ip("10.43.0.1")));
        assert!(!net.contains(ip("fd42::1")));
        let v6: IpCidr = "fd42::/64".parse().unwrap();
        assert!(v6.contains(ip("fd42::2")));
        assert!("10.42.0.2".parse::<IpCidr>().unwrap().is_host());
        assert!(
            "0.0.0.0/0"
                .parse::<IpCidr>()
                .unwrap()
                .contains(ip("1.2.3.4"))
        );
    }

    #[test]
    fn refuses_nonsense() {
        for bad in ["10.42.0.0/33", "fd42::/129", "10.42/16", "x/1", "10.0.0.1/"] {
            assert!(bad.parse::<IpCidr>().is_err(), "{bad}");
        }
    }
}
