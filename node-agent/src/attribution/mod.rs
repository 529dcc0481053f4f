//! Who is behind an address: a workload (namespace, name, kind), or nobody we
//! know (an external endpoint). Two sources implement [`Attribute`]: the
//! Kubernetes index built from pod and Service watches ([`ClusterIndex`]) and
//! the static map of host mode ([`StaticMap`]). Both are pure lookups over a
//! snapshot, so they are unit-tested without a cluster.

mod cluster;
mod static_map;

use std::net::IpAddr;

pub use cluster::ClusterIndex;
pub use coral_workloads::{kind, owner_workload, selector_matches};
pub use static_map::{StaticMap, StaticWorkload, WorkloadSpecError};

/// A workload, possibly reached through a Service's ClusterIP.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Workload {
    pub namespace: String,
    pub name: String,
    pub kind: String,
    /// The pod the address belongs to, when it is a pod IP.
    pub pod: Option<String>,
    /// The Service whose ClusterIP the address is.
    pub service: Option<String>,
}

impl Workload {
    pub fn new(namespace: &str, name: &str, kind: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            kind: kind.to_owned(),
            pod: None,
            service: None,
        }
    }
}

/// Address → workload lookups over one snapshot.
pub trait Attribute {
    /// The workload owning a socket on this node with local address `addr`;
    /// `port` is the local port for accepted connections, `None` for
    /// outbound ones (their local port is ephemeral).
    fn local(&self, addr: IpAddr, port: Option<u16>) -> Option<Workload>;
    /// The workload (or Service) behind a remote address and port.
    fn remote(&self, addr: IpAddr, port: u16) -> Option<Workload>;
    /// Whether connections made from `addr` are also seen by an agent on the
    /// connecting side (a pod IP, or a host-mode workload). Inbound flows
    /// from such clients are left to the client's outbound report, so each
    /// connection is counted once.
    fn client_is_observed(&self, addr: IpAddr) -> bool;
    /// Every address `client_is_observed` accepts, for the kernel to skip
    /// their accepted connections (loopback as 127.0.0.1 and ::1).
    fn observed_clients(&self) -> Vec<IpAddr>;
    /// The workload of the process `pid` connecting from `addr` (host
    /// mode keys outbound flows by process). By default the address
    /// decides, as for a flow without a process.
    fn process(&self, _pid: u32, addr: IpAddr) -> Option<Workload> {
        self.local(addr, None)
    }
}
