//! Shared harness for the end-to-end tests in `tests/`: a client for the
//! local cluster (`cargo xtask cluster up`), polling helpers, server
//! processes under test, and network namespaces linked to the host.

mod apiserver;
mod binaries;
mod cluster;
mod crds;
mod netns;
mod process;
mod wait;

pub use apiserver::restart_apiserver;
pub use binaries::workspace_binary;
pub use cluster::{client, kubeconfig_path, unique_namespace};
pub use crds::install_crds;
pub use netns::{LinkedNetns, delete_netns, ip, ip_in, netns_command, spawn_in_netns};
pub use process::ServerProcess;
pub use wait::poll_until;
