//! coral-node-agent: eBPF flow capture (issue 8).
//!
//! What exists so far is the kernel-capture core: a cgroup `sock_ops` program
//! at the cgroup v2 root that counts TCP connections per flow in kernel maps,
//! and a drain that turns those maps into [`FlowRecord`]s every few seconds.
//! Pod attribution, the mesh and reporting are not written yet.

mod capture;
mod drain;
mod error;
mod flow_record;
pub mod prerequisites;

pub use capture::{CaptureOptions, EmptyHook, FlowCapture};
pub use drain::{DrainLoop, DrainReport};
pub use error::CaptureError;
pub use flow_record::{Direction, FlowRecord};
pub use prerequisites::{MissingPrerequisite, PrerequisiteError, Prerequisites};
