//! Drained flow records → the protobuf flows of a batch, attributed.
//!
//! Each connection is reported once across all agents: by the connecting
//! side (outbound) when that side is a workload some agent observes, else by
//! the accepting side (inbound, the client then shown as external).

use std::collections::HashMap;
use std::net::IpAddr;

use coral_proto::agent::v1::{Endpoint, Flow, WorkloadKind};

use crate::attribution::{Attribute, Workload};
use crate::flow_record::{Direction, FlowRecord};

/// What became of one drain's records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributed {
    pub flows: Vec<Flow>,
    /// Records whose local end is no known workload (node processes,
    /// unnamed host processes): not reported.
    pub unattributed: u64,
    /// Inbound records whose client's own agent reports the connection.
    pub left_to_client: u64,
    /// Reported flows whose far end is an external endpoint.
    pub external_remote: u64,
}

fn endpoint(ip: IpAddr, port: u16, workload: Option<Workload>) -> Endpoint {
    let mut endpoint = Endpoint {
        ip: ip.to_string(),
        port: u32::from(port),
        ..Endpoint::default()
    };
    match workload {
        Some(w) => {
            endpoint.set_kind_name(&w.kind);
            endpoint.namespace = w.namespace;
            endpoint.workload = w.name;
        }
        None => endpoint.set_kind(WorkloadKind::External),
    }
    endpoint
}

pub fn attribute(records: &[FlowRecord], lookup: &dyn Attribute) -> Attributed {
    let mut out = Attributed::default();
    // A process lookup reads /proc: once per process and drain.
    let mut by_process: HashMap<(u32, IpAddr), Option<Workload>> = HashMap::new();
    for record in records {
        let port = record.server_port;
        let (source, destination, remote_known) = match record.direction {
            Direction::Outbound => {
                // By the connecting process when known: on loopback every
                // client has the same address.
                let local = match record.pid {
                    Some(pid) => by_process
                        .entry((pid, record.local_addr))
                        .or_insert_with(|| lookup.process(pid, record.local_addr))
                        .clone(),
                    None => lookup.local(record.local_addr, None),
                };
                let remote = lookup.remote(record.remote_addr, port);
                let known = remote.is_some();
                // An unnamed client whose connections only this side sees
                // (the accepting side leaves observed clients to us): the
                // connection is still reported, from an external client.
                let unnamed_but_ours =
                    local.is_none() && known && lookup.client_is_observed(record.local_addr);
                if local.is_none() && !unnamed_but_ours {
                    out.unattributed += 1;
                    continue;
                }
                (
                    endpoint(record.local_addr, 0, local),
                    endpoint(record.remote_addr, port, remote),
                    known,
                )
            }
            Direction::Inbound => {
                let Some(local) = lookup.local(record.local_addr, Some(port)) else {
                    out.unattributed += 1;
                    continue;
                };
                if lookup.client_is_observed(record.remote_addr) {
                    out.left_to_client += 1;
                    continue;
                }
                (
                    endpoint(record.remote_addr, 0, None),
                    endpoint(record.local_addr, port, Some(local)),
                    false,
                )
            }
        };
        if !remote_known {
            out.external_remote += 1;
        }
        out.flows.push(Flow {
            source: Some(source),
            destination: Some(destination),
            connections_opened: record.opened,
            connections_closed: record.closed,
            connections_failed: record.failed,
            resets: record.resets,
            bytes_sent: record.bytes_sent,
            bytes_received: record.bytes_received,
            rtt_sum_us: record.srtt_sum_us,
            rtt_samples: record.srtt_samples,
            l7: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::StaticMap;

    fn record(
        direction: Direction,
        local: &str,
        remote: &str,
        port: u16,
        opened: u64,
    ) -> FlowRecord {
        FlowRecord {
            netns_cookie: 1,
            direction,
            local_addr: local.parse().unwrap(),
            remote_addr: remote.parse().unwrap(),
            server_port: port,
            pid: None,
            opened,
            closed: opened,
            failed: 0,
            resets: 0,
            bytes_sent: 100 * opened,
            bytes_received: 200 * opened,
            srtt_sum_us: 180 * opened,
            srtt_samples: opened,
        }
    }

    fn map() -> StaticMap {
        StaticMap::new(
            ["shop/web=10.0.0.1", "shop/api=10.0.0.2:8080"]
                .iter()
                .map(|s| s.parse().unwrap())
                .collect(),
        )
    }

    #[test]
    fn a_connection_between_known_workloads_is_reported_once() {
        let records = [
            record(Direction::Outbound, "10.0.0.1", "10.0.0.2", 8080, 5),
            // The server's view of the same 5 connections.
            record(Direction::Inbound, "10.0.0.2", "10.0.0.1", 8080, 5),
        ];
        let out = attribute(&records, &map());
        assert_eq!(out.flows.len(), 1);
        assert_eq!(out.left_to_client, 1);
        let flow = &out.flows[0];
        let (src, dst) = (
            flow.source.as_ref().unwrap(),
            flow.destination.as_ref().unwrap(),
        );
        // Reported by the client side: only it attributes the client.
        assert_eq!(
            (src.namespace.as_str(), src.workload.as_str(), src.kind()),
            ("shop", "web", WorkloadKind::Process)
        );
        assert_eq!(
            (dst.workload.as_str(), dst.port, dst.kind()),
            ("api", 8080, WorkloadKind::Process)
        );
        // RTT goes as the kernel's sum and count: 5 connections of 180 µs.
        assert_eq!(
            (
                flow.connections_opened,
                flow.bytes_sent,
                flow.rtt_sum_us,
                flow.rtt_samples
            ),
            (5, 500, 900, 5)
        );
    }

    #[test]
    fn external_clients_and_servers() {
        let records = [
            record(Direction::Inbound, "10.0.0.2", "203.0.113.7", 8080, 2),
            record(Direction::Outbound, "10.0.0.1", "198.51.100.1", 443, 3),
            // Unknown local ends: not reported, counted as misses.
            record(Direction::Outbound, "192.168.1.1", "10.0.0.2", 8080, 1),
            record(Direction::Inbound, "10.0.0.2", "10.0.0.1", 22, 1),
        ];
        let out = attribute(&records, &map());
        assert_eq!(out.unattributed, 2);
        assert_eq!(out.external_remote, 2);
        assert_eq!(out.flows.len(), 2);
        let inbound = &out.flows[0];
        let src = inbound.source.as_ref().unwrap();
        assert_eq!(
            (src.ip.as_str(), src.workload.as_str(), src.kind()),
            ("203.0.113.7", "", WorkloadKind::External)
        );
        // Reported by the server side: the local end, with its port.
        let server = inbound.destination.as_ref().unwrap();
        assert_eq!((server.workload.as_str(), server.port), ("api", 8080));
        let outbound = out.flows[1].destination.as_ref().unwrap();
        assert_eq!(
            (outbound.ip.as_str(), outbound.port, outbound.kind()),
            ("198.51.100.1", 443, WorkloadKind::External)
        );
    }

    /// Every kind the agent attributes travels as itself: a listed kind as
    /// its enum value, another controller's kind by name.
    #[test]
    fn workload_kinds_keep_their_names_on_the_wire() {
        use crate::attribution::kind;
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for name in [
            kind::DEPLOYMENT,
            kind::STATEFUL_SET,
            kind::DAEMON_SET,
            kind::JOB,
            kind::REPLICA_SET,
            kind::POD,
            kind::SERVICE,
            kind::PROCESS,
            "Node",
        ] {
            let end = endpoint(ip, 80, Some(Workload::new("shop", "x", name)));
            assert_eq!(end.kind_name(), Some(name));
            assert_eq!(end.kind() == WorkloadKind::Other, name == "Node");
        }
        let external = endpoint(ip, 80, None);
        assert_eq!(external.kind_name(), Some("External"));
    }
}
