//! Shared harness for the end-to-end tests in `tests/`: a client for the
//! local cluster (`cargo xtask cluster up`), polling helpers, and server
//! processes under test.

mod cluster;
mod process;
mod wait;

pub use cluster::{client, kubeconfig_path, unique_namespace};
pub use process::ServerProcess;
pub use wait::poll_until;
