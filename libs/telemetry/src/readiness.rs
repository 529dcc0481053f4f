//! Whether `/readyz` answers 200, asked on every probe so it follows
//! whatever the binary flips: starting up, or draining before a stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone)]
pub struct Readiness(Arc<dyn Fn() -> bool + Send + Sync>);

impl Readiness {
    /// For readiness kept in the binary's own state.
    pub fn from_fn(is_ready: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        Self(Arc::new(is_ready))
    }

    pub fn is_ready(&self) -> bool {
        (self.0)()
    }
}

/// A flag the binary shares with the probe and sets or clears itself.
impl From<Arc<AtomicBool>> for Readiness {
    fn from(flag: Arc<AtomicBool>) -> Self {
        Self::from_fn(move || flag.load(Ordering::Relaxed))
    }
}
