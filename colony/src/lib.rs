//! `coral-colony`: agents enroll and report numbered flow batches; the
//! colony stores minute rollups per edge (DuckDB by default) and serves
//! status, agents, components, topology, edge series and events over gRPC
//! and Connect-JSON on one port.

pub mod app;
pub mod config;
pub mod discovery_registration;
pub mod error;
pub mod identity;
pub mod inventory;
pub mod local_components;
pub mod mesh_hub;
pub mod metrics;
pub mod peer_endpoints;
pub mod retention;
pub mod rollup;
pub mod server;
pub mod service;
pub mod store;
pub mod validation;

pub use config::{ColonyFlags, RuntimeSettings};
pub use coral_config::ColonySettings as Settings;
pub use server::{ServeError, VERSION, run};
pub use service::{Colony, ColonySettings};
