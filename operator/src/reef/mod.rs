//! Reef reconciliation: token-signing key Secret, Deployment, Service and an
//! optional Ingress; status from the Deployment and the federated Colonies.

pub mod controller;
pub mod desired;
pub mod reconcile;

/// Port of the reef API inside the cluster.
pub const API_PORT: i32 = 8443;
/// Key of the signing key inside its Secret.
pub const SIGNING_KEY: &str = "signingKey";
