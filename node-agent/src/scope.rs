//! Which colony gets which flow. A colony asks for the workloads its
//! Connections select; a flow goes, unchanged, to every colony that asked
//! for either end. Pure: built from the watch caches and unit-tested
//! without a cluster.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use coral_crds::Connection;
use coral_proto::agent::v1::{Endpoint, Flow};
use coral_workloads::owner_workload;
use k8s_openapi::api::core::v1::Pod;

/// `(namespace, kind, name)` of a workload, as flow endpoints carry it.
type WorkloadKey = (String, String, String);

/// The workloads each colony's Connections select.
#[derive(Clone, Debug, Default)]
pub struct ColonyScope {
    colonies_by_workload: HashMap<WorkloadKey, BTreeSet<String>>,
}

impl ColonyScope {
    pub fn build<'a>(
        pods: impl IntoIterator<Item = &'a Pod>,
        connections: impl IntoIterator<Item = &'a Connection>,
    ) -> Self {
        let mut by_namespace: HashMap<String, Vec<(String, coral_crds::PodMatcher)>> =
            HashMap::new();
        for connection in connections {
            let namespace = connection.metadata.namespace.clone().unwrap_or_default();
            by_namespace
                .entry(namespace)
                .or_default()
                .push((connection.colony_key(), connection.pod_matcher()));
        }
        let mut scope = Self::default();
        for pod in pods {
            let namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let Some(matchers) = by_namespace.get(&namespace) else {
                continue;
            };
            for (colony, matcher) in matchers {
                if matcher.matches(pod) {
                    let (name, kind) = owner_workload(pod);
                    scope
                        .colonies_by_workload
                        .entry((namespace.clone(), kind, name))
                        .or_default()
                        .insert(colony.clone());
                }
            }
        }
        scope
    }

    fn colonies_of(&self, endpoint: Option<&Endpoint>) -> Option<&BTreeSet<String>> {
        let endpoint = endpoint?;
        if endpoint.workload.is_empty() {
            return None;
        }
        // Keyed lookups need owned keys; the map is small per drain.
        self.colonies_by_workload.get(&(
            endpoint.namespace.clone(),
            endpoint.kind_name()?.to_owned(),
            endpoint.workload.clone(),
        ))
    }
}

/// Where a drain's flows go.
pub enum Routing {
    /// Every flow to this one colony.
    Everything(String),
    /// Each flow to the colonies whose Connections select either end.
    ByConnections(ColonyScope),
}

#[derive(Debug, Default, PartialEq)]
pub struct Routed {
    pub per_colony: BTreeMap<String, Vec<Flow>>,
    /// Flows neither end of which any colony asked for.
    pub out_of_scope: u64,
}

pub fn route(flows: Vec<Flow>, routing: &Routing) -> Routed {
    let mut routed = Routed::default();
    let scope = match routing {
        Routing::Everything(colony) => {
            if !flows.is_empty() {
                routed.per_colony.insert(colony.clone(), flows);
            }
            return routed;
        }
        Routing::ByConnections(scope) => scope,
    };
    let empty = BTreeSet::new();
    for flow in flows {
        let source = scope.colonies_of(flow.source.as_ref()).unwrap_or(&empty);
        let destination = scope
            .colonies_of(flow.destination.as_ref())
            .unwrap_or(&empty);
        if source.is_empty() && destination.is_empty() {
            routed.out_of_scope += 1;
            continue;
        }
        for colony in source.union(destination) {
            routed
                .per_colony
                .entry(colony.clone())
                .or_default()
                .push(flow.clone());
        }
    }
    routed
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(namespace: &str, name: &str, app: &str, deployment: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app": app, "pod-template-hash": "h"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{deployment}-h"), "uid": "u", "controller": true}],
            },
        }))
        .unwrap()
    }

    fn connection(namespace: &str, colony: &str, app: &str) -> Connection {
        serde_json::from_value(json!({
            "apiVersion": "coral.io/v1alpha1",
            "kind": "Connection",
            "metadata": {"name": app, "namespace": namespace},
            "spec": {"colonyRef": {"name": colony}, "component": app, "selector": {"matchLabels": {"app": app}}},
        }))
        .unwrap()
    }

    fn end(namespace: &str, workload: &str) -> Option<Endpoint> {
        let mut end = Endpoint {
            namespace: namespace.into(),
            workload: workload.into(),
            ..Endpoint::default()
        };
        end.set_kind_name(if workload.is_empty() {
            "External"
        } else {
            "Deployment"
        });
        Some(end)
    }

    fn flow(source: &str, destination: &str) -> Flow {
        Flow {
            source: end("shop", source),
            destination: end("shop", destination),
            connections_opened: 1,
            ..Flow::default()
        }
    }

    #[test]
    fn flows_go_to_the_colonies_that_asked_for_either_end() {
        let pods = [
            pod("shop", "web-1", "web", "web"),
            pod("shop", "api-1", "api", "api"),
            pod("shop", "db-1", "db", "db"),
        ];
        let connections = [
            connection("shop", "shop", "web"),
            connection("shop", "shop", "api"),
            // A second colony in the namespace watches only the database.
            connection("shop", "data", "db"),
        ];
        let scope = ColonyScope::build(&pods, &connections);
        let routed = route(
            vec![
                flow("web", "api"),
                flow("api", "db"),
                flow("cron", "mail"),
                flow("cron", ""),
            ],
            &Routing::ByConnections(scope),
        );
        assert_eq!(routed.out_of_scope, 2);
        // api → db goes to both: shop asked for api, data for db.
        let shop = &routed.per_colony["shop/shop"];
        assert_eq!(shop, &vec![flow("web", "api"), flow("api", "db")]);
        let data = &routed.per_colony["shop/data"];
        assert_eq!(data, &vec![flow("api", "db")]);
    }

    #[test]
    fn everything_goes_to_the_one_colony_unchanged() {
        let routed = route(
            vec![flow("web", "api"), flow("cron", "")],
            &Routing::Everything(String::new()),
        );
        assert_eq!(routed.out_of_scope, 0);
        assert_eq!(
            routed.per_colony[""],
            vec![flow("web", "api"), flow("cron", "")]
        );
        assert!(
            route(vec![], &Routing::Everything("c".into()))
                .per_colony
                .is_empty()
        );
    }
}
