//! Host mode: workloads named on the command line, no Kubernetes.
//!
//! `--workload shop/api=10.0.0.2:8080` names the process serving
//! 10.0.0.2:8080; `--workload web=10.0.0.1` names everything on 10.0.0.1.
//! Without a namespace the workload lands in [`DEFAULT_NAMESPACE`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use coral_proto::agent::limits::MAX_NAME_LEN;
use coral_proto::agent::v1::{LocalComponent, WorkloadKind};

use super::{Attribute, Workload, kind};

pub const DEFAULT_NAMESPACE: &str = "host";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "bad workload {spec:?}: {reason}; expected [NAMESPACE/]NAME=IP or [NAMESPACE/]NAME=IP:PORT \
     (IPv6 with a port as [ADDR]:PORT), e.g. shop/api=10.0.0.2:8080"
)]
pub struct WorkloadSpecError {
    spec: String,
    reason: &'static str,
}

/// One `--workload` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticWorkload {
    pub namespace: String,
    pub name: String,
    pub ip: IpAddr,
    /// The listening port; `None` matches every port of `ip`.
    pub port: Option<u16>,
}

impl FromStr for StaticWorkload {
    type Err = WorkloadSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let error = |reason| WorkloadSpecError {
            spec: spec.to_owned(),
            reason,
        };
        let (who, addr) = spec.split_once('=').ok_or_else(|| error("no '='"))?;
        let (namespace, name) = match who.split_once('/') {
            Some((namespace, name)) => (namespace, name),
            None => (DEFAULT_NAMESPACE, who),
        };
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= MAX_NAME_LEN
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        };
        if !valid(namespace) || !valid(name) {
            return Err(error(
                "namespace and name must be non-empty letters, digits, '-', '.', '_'",
            ));
        }
        let (ip, port) = if let Ok(socket) = addr.parse::<SocketAddr>() {
            (socket.ip(), Some(socket.port()))
        } else if let Ok(ip) = addr.parse::<IpAddr>() {
            (ip, None)
        } else {
            return Err(error("the address is neither IP nor IP:PORT"));
        };
        Ok(Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            ip,
            port,
        })
    }
}

/// The host-mode lookup.
#[derive(Clone, Debug, Default)]
pub struct StaticMap {
    entries: Vec<StaticWorkload>,
}

impl StaticMap {
    pub fn new(entries: Vec<StaticWorkload>) -> Self {
        Self { entries }
    }

    /// The workloads as components for the colony (one per name, with the
    /// ports given), which it lists while this agent is alive.
    pub fn components(&self) -> Vec<LocalComponent> {
        let mut components: Vec<LocalComponent> = Vec::new();
        for entry in &self.entries {
            let index = match components
                .iter()
                .position(|c| c.namespace == entry.namespace && c.name == entry.name)
            {
                Some(index) => index,
                None => {
                    components.push(LocalComponent {
                        namespace: entry.namespace.clone(),
                        name: entry.name.clone(),
                        kind: WorkloadKind::Process.into(),
                        ports: Vec::new(),
                    });
                    components.len() - 1
                }
            };
            // One port listed once, on however many addresses it is named.
            if let Some(port) = entry.port.map(u32::from)
                && !components[index].ports.contains(&port)
            {
                components[index].ports.push(port);
            }
        }
        components
    }

    fn workload(entry: &StaticWorkload) -> Workload {
        Workload::new(&entry.namespace, &entry.name, kind::PROCESS)
    }

    /// Exact `ip:port` first, then an entry for the whole IP.
    /// The entry a process listening on `listening` serves: same port, and
    /// the entry's address or a wildcard.
    fn serving(&self, listening: &[SocketAddr]) -> Option<&StaticWorkload> {
        self.entries.iter().find(|entry| {
            listening.iter().any(|addr| {
                Some(addr.port()) == entry.port
                    && (addr.ip().is_unspecified() || addr.ip().to_canonical() == entry.ip)
            })
        })
    }

    fn by_port(&self, addr: IpAddr, port: u16) -> Option<&StaticWorkload> {
        let on_ip = || self.entries.iter().filter(move |e| e.ip == addr);
        on_ip()
            .find(|e| e.port == Some(port))
            .or_else(|| on_ip().find(|e| e.port.is_none()))
    }
}

impl Attribute for StaticMap {
    fn local(&self, addr: IpAddr, port: Option<u16>) -> Option<Workload> {
        let entry = match port {
            Some(port) => self.by_port(addr, port),
            // An outbound socket's port is ephemeral: the whole-IP entry, or
            // the only entry on that IP.
            None => {
                let mut on_ip = self.entries.iter().filter(|e| e.ip == addr);
                let first = on_ip.next();
                let whole_ip = self
                    .entries
                    .iter()
                    .find(|e| e.ip == addr && e.port.is_none());
                whole_ip.or(first.filter(|_| on_ip.next().is_none()))
            }
        };
        entry.map(Self::workload)
    }

    fn remote(&self, addr: IpAddr, port: u16) -> Option<Workload> {
        self.by_port(addr, port).map(Self::workload)
    }

    /// Every named workload runs on this host, so its outbound side is seen
    /// whenever an outbound socket from its address is attributed.
    /// Loopback clients are processes of this host, whose connects the
    /// program sees (and keys by process): always observed.
    fn client_is_observed(&self, addr: IpAddr) -> bool {
        addr.is_loopback() || self.entries.iter().any(|e| e.ip == addr)
    }

    fn observed_clients(&self) -> Vec<IpAddr> {
        let loopback: [IpAddr; 2] = [Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()];
        let mut clients: Vec<IpAddr> = self.entries.iter().map(|e| e.ip).collect();
        clients.extend(loopback);
        clients.sort_unstable();
        clients.dedup();
        clients
    }

    /// The entry whose port the process listens on, else a whole-address
    /// entry of `addr`; never a port entry of another process (which the
    /// address alone would pick when it is the only one there).
    fn process(&self, pid: u32, addr: IpAddr) -> Option<Workload> {
        self.serving(&coral_host_sockets::of_process(pid))
            .or_else(|| {
                self.entries
                    .iter()
                    .find(|e| e.ip == addr && e.port.is_none())
            })
            .map(Self::workload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(specs: &[&str]) -> StaticMap {
        StaticMap::new(specs.iter().map(|s| s.parse().unwrap()).collect())
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_specs() {
        let api: StaticWorkload = "shop/api=10.0.0.2:8080".parse().unwrap();
        assert_eq!(
            api,
            StaticWorkload {
                namespace: "shop".into(),
                name: "api".into(),
                ip: ip("10.0.0.2"),
                port: Some(8080),
            }
        );
        let web: StaticWorkload = "web=fd00::1".parse().unwrap();
        assert_eq!((web.namespace.as_str(), web.port), ("host", None));
        let v6: StaticWorkload = "db=[fd00::2]:5432".parse().unwrap();
        assert_eq!((v6.ip, v6.port), (ip("fd00::2"), Some(5432)));
        for bad in [
            "api",
            "api=",
            "=10.0.0.1",
            "a/b/c=10.0.0.1",
            "api=10.0.0.1:x",
            "s p=1.2.3.4",
        ] {
            let err = bad.parse::<StaticWorkload>().unwrap_err().to_string();
            assert!(err.contains("expected [NAMESPACE/]NAME=IP"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_process_is_the_entry_of_a_port_it_listens_on() {
        let m = map(&["web=127.0.0.1:3000", "api=127.0.0.1:8080"]);
        let on = |addrs: &[&str]| -> Vec<SocketAddr> {
            addrs.iter().map(|a| a.parse().unwrap()).collect()
        };
        assert_eq!(m.serving(&on(&["127.0.0.1:8080"])).unwrap().name, "api");
        assert_eq!(m.serving(&on(&["[::]:3000"])).unwrap().name, "web");
        assert!(
            m.serving(&on(&["10.0.0.9:3000", "127.0.0.1:9999"]))
                .is_none()
        );
        // This test process listens on 127.0.0.1:<port>: found by its pid.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let localhost = ip("127.0.0.1");
        let mine = map(&[&format!("me=127.0.0.1:{port}")]);
        assert_eq!(
            mine.process(std::process::id(), localhost).unwrap().name,
            "me"
        );
        // Another process on the same address is not `me`, unless a
        // whole-address entry names everything there.
        assert_eq!(m.process(std::process::id(), localhost), None);
        let host = map(&["api=127.0.0.1:8080", "node=127.0.0.1"]);
        assert_eq!(
            host.process(std::process::id(), localhost).unwrap().name,
            "node"
        );
    }

    #[test]
    fn port_entries_win_and_whole_ip_entries_catch_the_rest() {
        let m = map(&[
            "shop/api=10.0.0.2:8080",
            "shop/admin=10.0.0.2:9090",
            "shop/node=10.0.0.2",
        ]);
        assert_eq!(m.remote(ip("10.0.0.2"), 8080).unwrap().name, "api");
        assert_eq!(m.remote(ip("10.0.0.2"), 9090).unwrap().name, "admin");
        assert_eq!(m.remote(ip("10.0.0.2"), 22).unwrap().name, "node");
        assert_eq!(m.local(ip("10.0.0.2"), Some(9090)).unwrap().name, "admin");
        // Outbound from a shared IP: the whole-IP entry.
        assert_eq!(m.local(ip("10.0.0.2"), None).unwrap().name, "node");
        assert_eq!(m.remote(ip("10.0.0.3"), 8080), None);
        assert_eq!(m.remote(ip("10.0.0.2"), 8080).unwrap().kind, "Process");
    }

    #[test]
    fn outbound_from_a_single_port_entry_and_ambiguity() {
        let m = map(&[
            "shop/api=10.0.0.2:8080",
            "shop/a=10.0.0.5:1",
            "shop/b=10.0.0.5:2",
        ]);
        // The only workload on 10.0.0.2 also makes its outbound calls.
        assert_eq!(m.local(ip("10.0.0.2"), None).unwrap().name, "api");
        assert!(m.client_is_observed(ip("10.0.0.2")));
        // Two port entries on one IP: an outbound socket is not attributable
        // by address (by its process it is), but its connects are still
        // seen here, so the connecting side reports them.
        assert_eq!(m.local(ip("10.0.0.5"), None), None);
        assert!(m.client_is_observed(ip("10.0.0.5")));
        assert!(m.client_is_observed(ip("127.0.0.1")));
        // What the kernel is told: each address once, loopback included.
        assert_eq!(
            m.observed_clients(),
            vec![ip("10.0.0.2"), ip("10.0.0.5"), ip("127.0.0.1"), ip("::1")]
        );
        assert!(!m.client_is_observed(ip("10.0.0.9")));
        // An inbound socket on an unnamed port is not either.
        assert_eq!(m.local(ip("10.0.0.2"), Some(22)), None);
    }

    #[test]
    fn workloads_become_components_with_their_ports() {
        let map = StaticMap::new(
            [
                "shop/api=10.0.0.2:8080",
                "shop/api=10.0.0.2:8443",
                "web=10.0.0.1",
            ]
            .iter()
            .map(|spec| spec.parse().unwrap())
            .collect(),
        );
        let components = map.components();
        let summary: Vec<(&str, &str, &[u32])> = components
            .iter()
            .map(|c| (c.namespace.as_str(), c.name.as_str(), c.ports.as_slice()))
            .collect();
        assert_eq!(
            summary,
            [("shop", "api", &[8080, 8443][..]), ("host", "web", &[][..])]
        );
        assert!(components.iter().all(|c| c.kind() == WorkloadKind::Process));
    }
}
