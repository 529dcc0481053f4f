//! The Kubernetes side of attribution: an index from pod IPs and Service
//! ClusterIPs to workloads, rebuilt from the watch caches before each batch.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Pod, Service};

use super::{Attribute, Workload, kind};
use coral_workloads::{owner_workload, selector_matches};

#[derive(Clone, Debug)]
struct PodEntry {
    workload: Workload,
    node: String,
    /// Succeeded/Failed pods keep their IP in status, but it may be reused.
    finished: bool,
}

/// Pod IPs and ClusterIPs of one snapshot of the cluster.
#[derive(Clone, Debug, Default)]
pub struct ClusterIndex {
    node_name: String,
    pods: HashMap<IpAddr, PodEntry>,
    services: HashMap<IpAddr, Workload>,
}

impl ClusterIndex {
    /// `node_name` is this agent's node: only its pods are local sources.
    /// Host-network pods are left out (their IP is the node's, shared).
    pub fn build<'a>(
        node_name: &str,
        pods: impl IntoIterator<Item = &'a Pod>,
        services: impl IntoIterator<Item = &'a Service>,
    ) -> Self {
        let mut index = Self {
            node_name: node_name.to_owned(),
            ..Self::default()
        };
        let pods: Vec<&Pod> = pods.into_iter().collect();
        for pod in &pods {
            index.add_pod(pod);
        }
        for service in services {
            index.add_service(service, &pods);
        }
        index
    }

    fn add_pod(&mut self, pod: &Pod) {
        let spec = pod.spec.as_ref();
        if spec.and_then(|s| s.host_network) == Some(true) {
            return;
        }
        let Some(status) = &pod.status else { return };
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let (name, kind) = owner_workload(pod);
        let workload = Workload {
            namespace,
            name,
            kind,
            pod: pod.metadata.name.clone(),
            service: None,
        };
        let finished = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        let node = spec.and_then(|s| s.node_name.clone()).unwrap_or_default();
        let ips = status
            .pod_ips
            .iter()
            .flatten()
            .map(|ip| ip.ip.as_str())
            .chain(status.pod_ip.as_deref());
        for ip in ips.filter_map(|ip| ip.parse::<IpAddr>().ok()) {
            let entry = PodEntry {
                workload: workload.clone(),
                node: node.clone(),
                finished,
            };
            // A running pod wins over a finished one that held the IP before.
            match self.pods.get(&ip) {
                Some(existing) if !existing.finished && finished => {}
                _ => {
                    self.pods.insert(ip, entry);
                }
            }
        }
    }

    /// A Service is reported as the one workload its selector selects, or as
    /// itself when it selects none or several.
    fn add_service(&mut self, service: &Service, pods: &[&Pod]) {
        let Some(spec) = &service.spec else { return };
        let namespace = service.metadata.namespace.clone().unwrap_or_default();
        let service_name = service.metadata.name.clone().unwrap_or_default();
        let owners: BTreeSet<(String, String)> = spec
            .selector
            .as_ref()
            .map(|selector| {
                pods.iter()
                    .filter(|pod| pod.metadata.namespace.as_deref() == Some(namespace.as_str()))
                    .filter(|pod| selector_matches(selector, pod.metadata.labels.as_ref()))
                    .map(|pod| owner_workload(pod))
                    .collect()
            })
            .unwrap_or_default();
        let (name, kind) = match owners.len() {
            1 => owners.into_iter().next().expect("one owner"),
            _ => (service_name.clone(), kind::SERVICE.to_owned()),
        };
        let workload = Workload {
            namespace,
            name,
            kind,
            pod: None,
            service: Some(service_name),
        };
        let ips = spec
            .cluster_ips
            .iter()
            .flatten()
            .map(String::as_str)
            .chain(spec.cluster_ip.as_deref());
        for ip in ips.filter_map(|ip| ip.parse::<IpAddr>().ok()) {
            self.services.insert(ip, workload.clone());
        }
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }
}

impl Attribute for ClusterIndex {
    fn local(&self, addr: IpAddr, _port: Option<u16>) -> Option<Workload> {
        self.pods
            .get(&addr)
            .filter(|entry| entry.node == self.node_name)
            .map(|entry| entry.workload.clone())
    }

    fn remote(&self, addr: IpAddr, _port: u16) -> Option<Workload> {
        self.services
            .get(&addr)
            .or_else(|| self.pods.get(&addr).map(|entry| &entry.workload))
            .cloned()
    }

    fn client_is_observed(&self, addr: IpAddr) -> bool {
        self.pods.contains_key(&addr)
    }

    fn observed_clients(&self) -> Vec<IpAddr> {
        self.pods.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{PodIP, PodSpec, PodStatus, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    use super::*;

    fn pod(name: &str, node: &str, ip: &str, app: &str, owner: Option<(&str, &str)>) -> Pod {
        let mut labels = BTreeMap::from([("app".to_owned(), app.to_owned())]);
        if let Some(("ReplicaSet", rs)) = owner {
            labels.insert(
                "pod-template-hash".into(),
                rs.rsplit('-').next().unwrap().into(),
            );
        }
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                labels: Some(labels),
                owner_references: owner.map(|(kind, name)| {
                    vec![OwnerReference {
                        api_version: "apps/v1".into(),
                        kind: kind.into(),
                        name: name.into(),
                        uid: "u".into(),
                        controller: Some(true),
                        block_owner_deletion: None,
                    }]
                }),
                ..Default::default()
            },
            spec: Some(PodSpec {
                node_name: Some(node.into()),
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some("Running".into()),
                pod_ip: Some(ip.into()),
                pod_ips: Some(vec![PodIP { ip: ip.into() }]),
                ..Default::default()
            }),
        }
    }

    fn service(name: &str, cluster_ip: &str, app: Option<&str>) -> Service {
        Service {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("shop".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some(cluster_ip.into()),
                cluster_ips: Some(vec![cluster_ip.into()]),
                selector: app.map(|app| BTreeMap::from([("app".to_owned(), app.to_owned())])),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn fixture() -> ClusterIndex {
        let pods = [
            pod(
                "web-5f-a",
                "node-1",
                "10.244.1.5",
                "web",
                Some(("ReplicaSet", "web-5f")),
            ),
            pod(
                "api-6c-b",
                "node-2",
                "10.244.2.7",
                "api",
                Some(("ReplicaSet", "api-6c")),
            ),
            pod(
                "api-6c-c",
                "node-2",
                "10.244.2.8",
                "api",
                Some(("ReplicaSet", "api-6c")),
            ),
            pod(
                "db-0",
                "node-1",
                "10.244.1.9",
                "db",
                Some(("StatefulSet", "db")),
            ),
            pod("shell", "node-2", "10.244.2.30", "mixed", None),
            pod(
                "mixed-x",
                "node-2",
                "10.244.2.31",
                "mixed",
                Some(("DaemonSet", "agent")),
            ),
        ];
        let services = [
            service("api", "10.96.0.10", Some("api")),
            service("mixed", "10.96.0.11", Some("mixed")),
            service("external-db", "10.96.0.12", None),
        ];
        ClusterIndex::build("node-1", &pods, &services)
    }

    #[test]
    fn local_sources_are_pods_on_this_node_only() {
        let index = fixture();
        let web = index.local(ip("10.244.1.5"), None).expect("web is local");
        assert_eq!(
            (web.namespace.as_str(), web.name.as_str(), web.kind.as_str()),
            ("shop", "web", "Deployment")
        );
        assert_eq!(web.pod.as_deref(), Some("web-5f-a"));
        let db = index.local(ip("10.244.1.9"), Some(5432)).unwrap();
        assert_eq!((db.name.as_str(), db.kind.as_str()), ("db", "StatefulSet"));
        // A pod on another node is not a local socket of ours.
        assert_eq!(index.local(ip("10.244.2.7"), None), None);
        assert_eq!(index.local(ip("192.168.0.1"), None), None);
    }

    #[test]
    fn remote_pods_services_and_external() {
        let index = fixture();
        let api_pod = index.remote(ip("10.244.2.8"), 8080).unwrap();
        assert_eq!(
            (api_pod.name.as_str(), api_pod.kind.as_str()),
            ("api", "Deployment")
        );
        assert_eq!(api_pod.service, None);

        // ClusterIP → Service → the Deployment its selector selects.
        let via_service = index.remote(ip("10.96.0.10"), 80).unwrap();
        assert_eq!(
            (via_service.name.as_str(), via_service.kind.as_str()),
            ("api", "Deployment")
        );
        assert_eq!(via_service.service.as_deref(), Some("api"));
        assert_eq!(via_service.pod, None);

        // Selecting pods of two workloads, or none: the Service itself.
        for (addr, name) in [("10.96.0.11", "mixed"), ("10.96.0.12", "external-db")] {
            let svc = index.remote(ip(addr), 80).unwrap();
            assert_eq!((svc.name.as_str(), svc.kind.as_str()), (name, "Service"));
            assert_eq!(svc.service.as_deref(), Some(name));
        }

        assert_eq!(index.remote(ip("203.0.113.1"), 443), None);
    }

    #[test]
    fn clients_seen_by_agents() {
        let index = fixture();
        assert!(index.client_is_observed(ip("10.244.2.7")));
        assert!(!index.client_is_observed(ip("10.96.0.10")));
        assert!(!index.client_is_observed(ip("198.51.100.4")));
    }

    #[test]
    fn host_network_and_finished_pods() {
        let mut host = pod(
            "kube-proxy-x",
            "node-1",
            "172.18.0.2",
            "kp",
            Some(("DaemonSet", "kube-proxy")),
        );
        host.spec.as_mut().unwrap().host_network = Some(true);
        let mut done = pod(
            "job-1-x",
            "node-1",
            "10.244.1.20",
            "batch",
            Some(("Job", "job-1")),
        );
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let reuser = pod(
            "web-5f-z",
            "node-1",
            "10.244.1.20",
            "web",
            Some(("ReplicaSet", "web-5f")),
        );
        // The running pod wins whichever order the cache lists them in.
        for pods in [
            vec![host.clone(), done.clone(), reuser.clone()],
            vec![reuser.clone(), done.clone(), host.clone()],
        ] {
            let index = ClusterIndex::build("node-1", &pods, std::iter::empty());
            assert_eq!(index.local(ip("172.18.0.2"), None), None);
            assert_eq!(index.local(ip("10.244.1.20"), None).unwrap().name, "web");
        }
    }
}
