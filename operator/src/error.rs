//! Errors a reconcile can hit. Each is turned into a retry with backoff and,
//! where the user can act on it, into a condition on the resource.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API call failed ({action}): {source}")]
    Kube { action: String, source: kube::Error },
    #[error("object has no {0}; the apiserver always sets it, so this is a bug")]
    MissingField(&'static str),
    #[error("the Colony's spec is not valid: {0}")]
    InvalidSpec(#[from] crate::colony::config_file::RenderError),
    #[error("serializing {what}: {source}")]
    Serialize {
        what: &'static str,
        source: serde_json::Error,
    },
}

impl Error {
    pub fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| Self::Kube { action, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
