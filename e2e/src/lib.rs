//! Shared harness for the end-to-end tests in `tests/`: a client for the
//! local cluster (`cargo xtask cluster up`) and polling helpers.

mod cluster;
mod wait;

pub use cluster::{client, kubeconfig_path, unique_namespace};
pub use wait::poll_until;
