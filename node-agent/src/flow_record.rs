//! The user-space view of one drained flow.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use coral_node_agent_common::{DIRECTION_INBOUND, FlowCounters, FlowKey};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// This host connected out.
    Outbound,
    /// This host accepted the connection.
    Inbound,
}

/// Counts of one flow over one drain interval. The flow is identified by
/// network namespace, both addresses and the server-side port (the remote
/// port when outbound, the local service port when inbound): client
/// ephemeral ports are deliberately not part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    pub netns_cookie: u64,
    pub direction: Direction,
    pub local_addr: IpAddr,
    pub remote_addr: IpAddr,
    /// Server-side port (see the type's docs).
    pub server_port: u16,
    /// Host mode, outbound: the process that connected (see `FlowKey::pid`).
    pub pid: Option<u32>,
    pub opened: u64,
    pub closed: u64,
    pub failed: u64,
    /// Abortive closes (RST sent or received on an established connection).
    pub resets: u64,
    /// Bytes acknowledged by the peer, including one each for SYN and FIN.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Sum of the smoothed RTT (µs) of the connections closed in the
    /// interval that had one, and how many those were: sent as they are,
    /// so that whoever adds flows up divides only at the end.
    pub srtt_sum_us: u64,
    pub srtt_samples: u64,
}

impl FlowRecord {
    pub(crate) fn new(key: &FlowKey, counters: &FlowCounters) -> Self {
        Self {
            netns_cookie: key.netns_cookie,
            direction: if key.direction == DIRECTION_INBOUND {
                Direction::Inbound
            } else {
                Direction::Outbound
            },
            local_addr: address(key.local_addr),
            remote_addr: address(key.remote_addr),
            server_port: key.port,
            pid: (key.pid != 0).then_some(key.pid),
            opened: counters.opened,
            closed: counters.closed,
            failed: counters.failed,
            resets: counters.resets,
            bytes_sent: counters.bytes_sent,
            bytes_received: counters.bytes_received,
            srtt_sum_us: counters.srtt_sum_us,
            srtt_samples: counters.srtt_samples,
        }
    }

    /// Mean smoothed RTT of the connections closed in the interval.
    pub fn mean_srtt(&self) -> Option<Duration> {
        self.srtt_sum_us
            .checked_div(self.srtt_samples)
            .map(Duration::from_micros)
    }
}

/// IPv4-mapped addresses come back as IPv4.
fn address(bytes: [u8; 16]) -> IpAddr {
    Ipv6Addr::from(bytes).to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;
    use coral_node_agent_common::DIRECTION_OUTBOUND;

    #[test]
    fn mapped_ipv4_and_mean_rtt() {
        let mut local = [0u8; 16];
        local[10] = 0xff;
        local[11] = 0xff;
        local[12..].copy_from_slice(&[10, 0, 0, 1]);
        let remote = "fd00::2".parse::<Ipv6Addr>().unwrap().octets();
        let key = FlowKey {
            netns_cookie: 7,
            local_addr: local,
            remote_addr: remote,
            port: 443,
            direction: DIRECTION_OUTBOUND,
            epoch: 1,
            pid: 0,
        };
        let counters = FlowCounters {
            opened: 2,
            srtt_sum_us: 300,
            srtt_samples: 2,
            ..FlowCounters::ZERO
        };
        let record = FlowRecord::new(&key, &counters);
        assert_eq!(record.local_addr, "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(record.remote_addr, "fd00::2".parse::<IpAddr>().unwrap());
        assert_eq!(record.direction, Direction::Outbound);
        assert_eq!((record.srtt_sum_us, record.srtt_samples), (300, 2));
        assert_eq!(record.mean_srtt(), Some(Duration::from_micros(150)));
        let no_rtt = FlowRecord::new(&key, &FlowCounters::ZERO);
        assert_eq!(no_rtt.mean_srtt(), None);
    }
}
