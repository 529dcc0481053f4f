//! Colony reconciliation: keys Secret, ConfigMap, ServiceAccount and Role,
//! StatefulSet (DuckDB) or Deployment (ClickHouse), Service, and status
//! from their readiness.

pub mod access;
pub mod config_file;
pub mod controller;
pub mod desired;
pub mod reconcile;
pub mod status;
pub mod workload;

/// Connect (gRPC + Connect-JSON) port of the colony.
pub const CONNECT_PORT: i32 = 9000;
