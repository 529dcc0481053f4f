//! Requests refused by the protocol layer before they reach a handler, and a
//! hook so the embedding service can count them (metrics).

use std::sync::Arc;

/// Why the Connect layer refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    UnsupportedMediaType,
    BodyTooLarge,
    MalformedMessage,
    MethodNotAllowed,
}

impl Rejection {
    /// Stable snake_case label for metrics.
    pub fn as_label(self) -> &'static str {
        match self {
            Rejection::UnsupportedMediaType => "unsupported_media_type",
            Rejection::BodyTooLarge => "body_too_large",
            Rejection::MalformedMessage => "malformed_message",
            Rejection::MethodNotAllowed => "method_not_allowed",
        }
    }
}

/// Called once per refused request.
pub type RejectionObserver = Arc<dyn Fn(Rejection) + Send + Sync>;
