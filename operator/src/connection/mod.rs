//! Connection reconciliation: resolve the selector to pods and workloads and
//! report them in status. A Connection owns no objects.

pub mod caches;
pub mod controller;
pub mod reconcile;
pub mod resolve;
