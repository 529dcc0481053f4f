//! `Colony`: one colony per application and environment.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use coral_config::defaults;

use crate::references::{NamespacedReference, SecretKeyReference};

/// Desired state of a Colony: the application and environment it observes,
/// where it stores data, and how agents reach it over the WireGuard mesh.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "coral.io",
    version = "v1alpha1",
    kind = "Colony",
    plural = "colonies",
    shortname = "col",
    category = "coral",
    namespaced,
    status = "ColonyStatus",
    doc = "A Coral colony: stores the flows reported by node-agents for one application and environment and serves topology, health and insights.",
    printcolumn(name = "Application", type_ = "string", json_path = ".spec.application", description = "Application observed by the colony"),
    printcolumn(name = "Environment", type_ = "string", json_path = ".spec.environment", description = "Environment observed by the colony"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status", description = "Whether the colony is ready"),
    printcolumn(name = "Endpoint", type_ = "string", json_path = ".status.endpoint", description = "In-cluster connect endpoint"),
    printcolumn(name = "Agents", type_ = "string", json_path = ".status.agents", description = "Enrolled agents reported by the colony API, or Unknown"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("size(self.metadata.name) <= 40").message("metadata.name of a Colony must be at most 40 characters (its children append suffixes)")
)]
#[serde(rename_all = "camelCase")]
pub struct ColonySpec {
    /// Name of the application this colony observes (for example `shop`).
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub application: String,
    /// Environment of the application (for example `production`).
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub environment: String,
    /// Where the colony stores flows and rollups. Exactly one backend; DuckDB on a PersistentVolumeClaim by default.
    #[serde(default)]
    pub storage: StorageSpec,
    /// The WireGuard mesh between the colony and its agents.
    #[serde(default)]
    pub mesh: MeshSpec,
    /// Optional discovery service the colony registers with, so agents outside the cluster can find it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<DiscoverySpec>,
    /// Reef this colony will federate into. Not yet used: the colony does not ship data to a reef yet, so setting it has no effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reef_ref: Option<NamespacedReference>,
    /// The web dashboard of the colony. Not yet used: the colony does not serve a dashboard yet; only the port is reserved on its Service.
    #[serde(default)]
    pub dashboard: DashboardSpec,
    /// How long the colony keeps data.
    #[serde(default)]
    pub retention: RetentionSpec,
    /// Container image override for the colony; defaults to the image the operator was built for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Compute resources of the colony container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// Storage backend of a colony: set exactly one of `duckdb` or `clickhouse`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("(has(self.duckdb) ? 1 : 0) + (has(self.clickhouse) ? 1 : 0) == 1").message("exactly one of spec.storage.duckdb or spec.storage.clickhouse must be set"))]
pub struct StorageSpec {
    /// Embedded DuckDB on a PersistentVolumeClaim (one colony replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duckdb: Option<DuckDbStorage>,
    /// An external ClickHouse server (the colony runs as a Deployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clickhouse: Option<ClickHouseStorage>,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            duckdb: Some(DuckDbStorage::default()),
            clickhouse: None,
        }
    }
}

/// DuckDB storage on a PersistentVolumeClaim. Immutable once set (a StatefulSet cannot change its claim template).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("self == oldSelf").message("spec.storage.duckdb is immutable once set; resize the PersistentVolumeClaim directly"))]
#[serde(rename_all = "camelCase")]
pub struct DuckDbStorage {
    /// Size of the PersistentVolumeClaim, as a Kubernetes quantity (for example `10Gi`).
    #[serde(default = "default_duckdb_size")]
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"))]
    pub size: String,
    /// StorageClass of the PersistentVolumeClaim; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

impl Default for DuckDbStorage {
    fn default() -> Self {
        Self {
            size: default_duckdb_size(),
            storage_class_name: None,
        }
    }
}

fn default_duckdb_size() -> String {
    "10Gi".into()
}

/// ClickHouse storage.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClickHouseStorage {
    /// HTTP(S) URL of the ClickHouse server (for example `http://clickhouse:8123`).
    #[x_kube(validation = Rule::new("isURL(self) && (url(self).getScheme() == 'http' || url(self).getScheme() == 'https')").message("spec.storage.clickhouse.url must be an http or https URL"))]
    pub url: String,
    /// Database the colony writes to.
    #[serde(default = "default_clickhouse_database")]
    #[schemars(length(min = 1, max = 63))]
    pub database: String,
    /// Secret key holding the ClickHouse password; the user is taken from `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyReference>,
    /// ClickHouse user.
    #[serde(default = "default_clickhouse_user")]
    pub user: String,
}

fn default_clickhouse_database() -> String {
    "coral".into()
}

fn default_clickhouse_user() -> String {
    "default".into()
}

/// WireGuard mesh settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MeshSpec {
    /// IPv4 CIDR the mesh addresses come from, with a prefix from /8 to /30; the colony takes the first host, agents the following ones. Immutable once set.
    #[serde(default = "default_ipv4_cidr", rename = "ipv4CIDR")]
    #[x_kube(validation = Rule::new("isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self).prefixLength() >= 8 && cidr(self).prefixLength() <= 30").message("spec.mesh.ipv4CIDR must be an IPv4 CIDR with a prefix from /8 to /30, such as 10.42.0.0/16"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.mesh.ipv4CIDR is immutable once set"))]
    pub ipv4_cidr: String,
    /// IPv6 /64 the mesh addresses come from; each member gets the same host number as in the IPv4 CIDR. Immutable once set.
    #[serde(default = "default_ipv6_cidr", rename = "ipv6CIDR")]
    #[x_kube(validation = Rule::new("isCIDR(self) && cidr(self).ip().family() == 6 && cidr(self).prefixLength() == 64").message("spec.mesh.ipv6CIDR must be an IPv6 /64 such as fd42::/64"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.mesh.ipv6CIDR is immutable once set"))]
    pub ipv6_cidr: String,
    /// UDP port WireGuard listens on.
    #[serde(default = "default_mesh_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Optional `host:port` agents outside the cluster use to reach the mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 261))]
    pub public_endpoint: Option<String>,
}

impl Default for MeshSpec {
    fn default() -> Self {
        Self {
            ipv4_cidr: default_ipv4_cidr(),
            ipv6_cidr: default_ipv6_cidr(),
            port: default_mesh_port(),
            public_endpoint: None,
        }
    }
}

fn default_ipv4_cidr() -> String {
    coral_mesh_addressing::DEFAULT_IPV4_CIDR.into()
}

fn default_ipv6_cidr() -> String {
    coral_mesh_addressing::DEFAULT_IPV6_CIDR.into()
}

fn default_mesh_port() -> i32 {
    defaults::MESH_PORT.into()
}

/// Discovery service registration.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DiscoverySpec {
    /// URL of the discovery service (for example `http://discovery.coral:8080`).
    #[x_kube(validation = Rule::new("isURL(self)").message("spec.discovery.endpoint must be a URL"))]
    pub endpoint: String,
}

/// The web dashboard.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DashboardSpec {
    /// Whether the colony serves the dashboard.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// TCP port of the dashboard.
    #[serde(default = "default_dashboard_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
}

impl Default for DashboardSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            port: default_dashboard_port(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_dashboard_port() -> i32 {
    3000
}

/// Data retention.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("self.hourlyFlowDays >= self.flowDays").message("spec.retention.hourlyFlowDays must be at least spec.retention.flowDays (hourly rollups are made from minute rollups)"))]
#[serde(rename_all = "camelCase")]
pub struct RetentionSpec {
    /// Days to keep per-minute flow rollups; older ones are folded into hourly rollups.
    #[serde(default = "default_flow_days")]
    #[schemars(range(min = 1, max = 365))]
    pub flow_days: i32,
    /// Days to keep hourly flow rollups.
    #[serde(default = "default_hourly_flow_days")]
    #[schemars(range(min = 1, max = 3650))]
    pub hourly_flow_days: i32,
    /// Days to keep events (deploys, restarts, OOM kills, scaling).
    #[serde(default = "default_event_days")]
    #[schemars(range(min = 1, max = 3650))]
    pub event_days: i32,
}

impl Default for RetentionSpec {
    fn default() -> Self {
        Self {
            flow_days: default_flow_days(),
            hourly_flow_days: default_hourly_flow_days(),
            event_days: default_event_days(),
        }
    }
}

// The colony's own defaults, so the CRD and `colony.yaml` cannot disagree.
fn default_flow_days() -> i32 {
    days(defaults::FLOW_DAYS)
}

fn default_hourly_flow_days() -> i32 {
    days(defaults::HOURLY_FLOW_DAYS)
}

fn default_event_days() -> i32 {
    days(defaults::EVENT_DAYS)
}

fn days(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Observed state of a Colony.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ColonyStatus {
    /// Conditions `Ready`, `Progressing` and `Degraded`, derived from the colony's children.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// In-cluster connect endpoint of the colony (`host:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// WireGuard public key of the colony (base64), which agents peer with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh_public_key: Option<String>,
    /// Mesh IPv4 address of the colony.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "meshIPv4")]
    pub mesh_ipv4: Option<String>,
    /// Number of enrolled agents as reported by the colony API, or `Unknown` when the API is not reachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<String>,
    /// Number of components (workloads) the colony knows, as reported by its API, or `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<String>,
}
