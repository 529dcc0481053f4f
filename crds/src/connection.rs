//! `Connection`: the Kubernetes form of `coral connect api --port 8080`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::references::LocalObjectReference;

/// Desired state of a Connection: which pods make up a component and which
/// colony observes them.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "coral.io",
    version = "v1alpha1",
    kind = "Connection",
    plural = "connections",
    shortname = "conn",
    category = "coral",
    namespaced,
    status = "ConnectionStatus",
    doc = "Connects a component (a set of pods) to a colony, which then observes its traffic.",
    printcolumn(
        name = "Colony",
        type_ = "string",
        json_path = ".spec.colonyRef.name",
        description = "Colony observing the component"
    ),
    printcolumn(
        name = "Component",
        type_ = "string",
        json_path = ".spec.component",
        description = "Component name"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the selector resolved to pods of an existing colony"
    ),
    printcolumn(
        name = "Pods",
        type_ = "integer",
        json_path = ".status.matchedPods",
        description = "Pods matched by the selector"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("(has(self.selector) ? 1 : 0) + (has(self.workloadRef) ? 1 : 0) == 1").message("exactly one of spec.selector or spec.workloadRef must be set"))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionSpec {
    /// Colony in the same namespace that observes this component.
    pub colony_ref: LocalObjectReference,
    /// Component name shown in topology (for example `api`).
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub component: String,
    /// Label selector of the component's pods. Set this or `workloadRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// A workload (`kind` and `name`) whose pods make up the component. Set this or `selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_ref: Option<WorkloadReference>,
    /// Ports the component serves, with optional protocol hints; all ports when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub ports: Vec<ConnectionPort>,
}

/// A workload in the same namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WorkloadReference {
    /// Kind of the workload.
    pub kind: WorkloadKind,
    /// Name of the workload.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Workload kinds a Connection can reference.
#[derive(
    schemars::JsonSchema,
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
}

impl WorkloadKind {
    /// The kind as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::ReplicaSet => "ReplicaSet",
            Self::Job => "Job",
        }
    }
}

/// A port the component serves.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ConnectionPort {
    /// Port number.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Application protocol hint; detected from traffic when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<PortProtocol>,
}

/// Application protocol hints.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PortProtocol {
    Tcp,
    Http,
    Grpc,
    Postgres,
    Mysql,
    Redis,
}

/// Observed state of a Connection.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    /// Condition `Ready`, with reasons such as `Resolved`, `ColonyNotFound`, `WorkloadNotFound` and `NoMatchingPods`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Number of pods the selector matches.
    #[serde(default)]
    pub matched_pods: i32,
    /// Names of the matched pods (sorted, at most 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<String>,
    /// Workloads (`Kind/name`) owning the matched pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<String>,
    /// Last time the colony saw traffic of this component; unset until the colony reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_traffic_seen: Option<Time>,
}
