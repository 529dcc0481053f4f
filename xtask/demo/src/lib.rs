//! The demo's real processes on the local cluster (`cargo xtask demo`, and
//! the full-path test): the Colony's pod runs the real `coral-colony` with
//! the operator's config and keys, one node's pods are network namespaces
//! with their pod IPs running the three-tier app, and that node's
//! `coral-node-agent` sees their TCP connections with eBPF and reports them
//! through the WireGuard mesh.

pub mod apiserver_relay;
pub mod app;
pub mod cluster_app;
pub mod colony_pod;
pub mod environment;
pub mod node_agent;
pub mod pod_network;

pub use app::Load;
pub use environment::{Binaries, Demo, DemoOptions};
