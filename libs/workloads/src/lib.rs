//! What Kubernetes objects alone say about workloads, shared by the
//! operator (Connection status), the node-agent (attribution) and the colony
//! (component inventory): which workload owns a pod, whether a pod counts,
//! and which version an image is.

mod image;
mod owner;
mod pod_state;

pub use image::image_version;
pub use owner::{owner_workload, selector_matches};
pub use pod_state::{is_live, is_ready, restarts};

/// Workload kinds as Coral names them.
pub mod kind {
    pub const DEPLOYMENT: &str = "Deployment";
    pub const STATEFUL_SET: &str = "StatefulSet";
    pub const DAEMON_SET: &str = "DaemonSet";
    pub const JOB: &str = "Job";
    pub const REPLICA_SET: &str = "ReplicaSet";
    pub const POD: &str = "Pod";
    pub const SERVICE: &str = "Service";
    /// Host mode: a process named on the command line.
    pub const PROCESS: &str = "Process";
}
