//! Everything a discovery call can refuse, and how each maps to a gRPC
//! status (and so to a Connect error code and HTTP status).

use tonic::Status;

use crate::metrics::Kind;
use crate::validation::ValidationError;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),

    #[error("{} not found: {id}", kind.as_str())]
    NotFound { kind: Kind, id: String },

    #[error(
        "{} {id} is registered with a different pubkey; only its owner can renew it \
         (deregister with the original key or wait for the lease to expire)",
        kind.as_str()
    )]
    HeldByAnother { kind: Kind, id: String },

    #[error("pubkey does not match the key that registered {} {id}", kind.as_str())]
    NotOwner { kind: Kind, id: String },

    #[error("too many registrations from {source_ip}; retry later")]
    RateLimited { source_ip: String },

    #[error("the registry holds its maximum of {capacity} {}s; retry later or raise --max-entries", kind.as_str())]
    Full { kind: Kind, capacity: usize },
}

impl DiscoveryError {
    /// Label for the `rejected_requests` metric.
    pub fn reason(&self) -> &'static str {
        match self {
            DiscoveryError::Invalid(_) => "invalid_argument",
            DiscoveryError::NotFound { .. } => "not_found",
            DiscoveryError::HeldByAnother { .. } => "already_exists",
            DiscoveryError::NotOwner { .. } => "permission_denied",
            DiscoveryError::RateLimited { .. } => "rate_limited",
            DiscoveryError::Full { .. } => "registry_full",
        }
    }
}

impl From<DiscoveryError> for Status {
    fn from(error: DiscoveryError) -> Self {
        let message = error.to_string();
        match error {
            DiscoveryError::Invalid(_) => Status::invalid_argument(message),
            DiscoveryError::NotFound { .. } => Status::not_found(message),
            DiscoveryError::HeldByAnother { .. } => Status::already_exists(message),
            DiscoveryError::NotOwner { .. } => Status::permission_denied(message),
            DiscoveryError::RateLimited { .. } | DiscoveryError::Full { .. } => {
                Status::resource_exhausted(message)
            }
        }
    }
}
