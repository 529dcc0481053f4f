//! coral-node-agent: eBPF flow capture, attribution and reporting.
//!
//! A cgroup `sock_ops` program at the cgroup v2 root counts TCP connections
//! per flow in kernel maps ([`FlowCapture`]); every few seconds the agent
//! drains them, attributes each end to a workload ([`attribution`]) and sends
//! the flows as a numbered batch to the colony ([`report`]), buffering while
//! the colony is away.

pub mod app;
pub mod attribution;
mod capture;
pub mod cluster_watch;
pub mod colony_targets;
pub mod config;
mod drain;
mod error;
mod flow_record;
pub mod flow_report;
pub mod host_workloads;
pub mod http;
pub mod metrics;
pub mod netns_cookie;
pub mod prerequisites;
pub mod report;
pub mod scope;
pub mod state;

pub use capture::{CaptureOptions, EmptyHook, FlowCapture};
pub use drain::DrainReport;
pub use error::{CaptureError, StartError};
pub use flow_record::{Direction, FlowRecord};
pub use prerequisites::{MissingPrerequisite, PrerequisiteError, Prerequisites};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
