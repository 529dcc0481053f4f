//! Sending flow batches to the colony: enrollment, ordered idempotent
//! delivery with backoff, a bounded buffer while the colony is away, and
//! heartbeats.

mod fanout;
mod link;
mod mesh_link;
mod outbox;
mod reporter;

pub use fanout::{Fanout, FanoutSettings};

/// Host mode: the workloads observed, sent with every heartbeat; shared so
/// a change of `--workloads-dir` reaches every colony's next heartbeat.
pub type SharedComponents =
    std::sync::Arc<std::sync::RwLock<Vec<coral_proto::agent::v1::LocalComponent>>>;
pub use link::{ColonyLink, EndpointError, GrpcLink};
pub use mesh_link::MeshLink;
pub use outbox::{Outbox, PendingBatch};
pub use reporter::{Reporter, ReporterConfig};
