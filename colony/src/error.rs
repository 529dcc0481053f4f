//! Request errors and their gRPC / Connect codes.

use tonic::{Code, Status};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ColonyError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error(
        "invalid enrollment token; use the token of this colony (its Secret, or the \
         colony's --enrollment-token)"
    )]
    Unauthenticated,
    #[error("agent {agent_id:?} is not enrolled with this colony; call Enroll first")]
    NotEnrolled { agent_id: String },
    #[error("{0}; retry later")]
    Store(#[from] StoreError),
    #[error("the colony's mesh hub has stopped ({0}); retry later")]
    MeshDown(String),
    #[error(
        "the agent API is served only inside the WireGuard mesh, at {mesh_addr}; \
         join the mesh with the keys from Enroll and call it there"
    )]
    MeshOnly { mesh_addr: String },
}

impl ColonyError {
    /// Stable snake_case label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            ColonyError::InvalidArgument(_) => "invalid_argument",
            ColonyError::Unauthenticated => "unauthenticated",
            ColonyError::NotEnrolled { .. } => "not_enrolled",
            ColonyError::Store(StoreError::MeshFull { .. }) => "mesh_full",
            ColonyError::Store(_) => "store_error",
            ColonyError::MeshDown(_) => "mesh_down",
            ColonyError::MeshOnly { .. } => "mesh_only",
        }
    }

    pub fn code(&self) -> Code {
        match self {
            ColonyError::InvalidArgument(_) => Code::InvalidArgument,
            ColonyError::Unauthenticated => Code::Unauthenticated,
            ColonyError::NotEnrolled { .. } => Code::FailedPrecondition,
            ColonyError::Store(StoreError::MeshFull { .. }) => Code::ResourceExhausted,
            // Agents retry `unavailable`, which is what a storage hiccup needs.
            ColonyError::Store(_) | ColonyError::MeshDown(_) => Code::Unavailable,
            ColonyError::MeshOnly { .. } => Code::PermissionDenied,
        }
    }
}

impl From<ColonyError> for Status {
    fn from(error: ColonyError) -> Self {
        Status::new(error.code(), error.to_string())
    }
}
