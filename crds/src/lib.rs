//! Coral custom resources, group `coral.io`, version `v1alpha1`.
//!
//! The Rust types here are the source of truth: `cargo xtask crdgen` renders
//! them to YAML (`crds/*.yaml`, `charts/coral/crds/*.yaml`) and fails CI when
//! the checked-in YAML is stale.

// Several `printcolumn(type_ = "string", …)` entries look like duplicated
// attributes to clippy; they are distinct columns.
#![allow(clippy::duplicated_attributes)]

mod colony;
mod connection;
mod connection_matcher;
mod reef;
mod references;
mod render;

pub use colony::{
    ClickHouseStorage, Colony, ColonySpec, ColonyStatus, DashboardSpec, DiscoverySpec,
    DuckDbStorage, MeshSpec, RetentionSpec, StorageSpec,
};
pub use connection::{
    Connection, ConnectionPort, ConnectionSpec, ConnectionStatus, PortProtocol, WorkloadKind,
    WorkloadReference,
};
pub use connection_matcher::PodMatcher;
pub use reef::{LlmSpec, Reef, ReefClickHouse, ReefPublicEndpoint, ReefSpec, ReefStatus};
pub use references::{LocalObjectReference, NamespacedReference, SecretKeyReference};
pub use render::{CrdFile, RenderError, crd_files};

/// API group of every Coral resource.
pub const GROUP: &str = "coral.io";
/// The one served and stored version.
pub const VERSION: &str = "v1alpha1";

/// Kubernetes condition, shared by every status (type, status, reason,
/// message, observedGeneration, lastTransitionTime).
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
