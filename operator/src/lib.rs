//! coral-operator: reconciles Colony, Connection and Reef resources and keeps the
//! node-agent DaemonSet while at least one Colony exists.
//!
//! Each reconciler follows one pipeline: read what exists, build the desired
//! children with pure functions (`*/desired.rs`, unit-tested), apply only
//! what differs (`apply.rs`), then derive status from the children.

#[cfg(test)]
mod api_server_verifier;
pub mod apply;
pub mod colony;
pub mod conditions;
pub mod connection;
pub mod context;
pub mod error;
pub mod http;
pub mod keys;
pub mod labels;
pub mod leader;
pub mod metrics;
pub mod node_agent;
pub mod pod_spec;
pub mod reef;
pub mod run;
pub mod tolerant_watch;

pub use context::{Context, OperatorConfig};
pub use error::Error;
pub use run::run;

/// The one server-side-apply field manager every write uses.
pub const FIELD_MANAGER: &str = "coral-operator";
