//! `coral-discovery`: the rendezvous registry. Colonies (and agents)
//! announce themselves with TTL leases owned by their WireGuard public key;
//! proxies and agents look them up by id, over gRPC or Connect-JSON on one
//! port.

pub mod app;
pub mod cleanup;
pub mod config;
pub mod error;
pub mod health_json;
pub mod lease_table;
pub mod metrics;
pub mod rate_limit;
pub mod server;
pub mod service;
pub mod validation;

pub use config::Config;
pub use server::{ServeError, VERSION, run};
pub use service::{Discovery, DiscoverySettings};
