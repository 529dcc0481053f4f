//! Errors of loading, attaching and draining the flow program, and of
//! starting the agent.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::prerequisites::PrerequisiteError;

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(transparent)]
    Prerequisites(#[from] PrerequisiteError),
    #[error(
        "this binary was built with AYA_BUILD_SKIP=1 and carries no eBPF program; \
         rebuild without it (needs bpf-linker 0.10.4: `cargo xtask test` installs it)"
    )]
    NoEbpfObject,
    #[error("loading the eBPF object failed (is the kernel ≥ 5.15 with BTF?): {0}")]
    Load(#[from] aya::EbpfError),
    #[error(
        "the eBPF object has no {kind} named {name}; the agent and its eBPF crate are out of step"
    )]
    Missing {
        kind: &'static str,
        name: &'static str,
    },
    #[error("the kernel refused the sock_ops program: {0}")]
    Program(#[from] aya::programs::ProgramError),
    #[error("cannot open cgroup {path}: {source}")]
    Cgroup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("flow map operation failed: {0}")]
    Map(#[from] aya::maps::MapError),
}

/// Why the agent did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster_watch::ClusterWatchError),
    #[error(transparent)]
    Endpoint(#[from] crate::report::EndpointError),
    #[error(transparent)]
    Colonies(#[from] coral_config::AgentColoniesError),
    #[error(
        "cannot read this network namespace's cookie (SO_NETNS_COOKIE, Linux ≥ 5.14), \
         which host mode needs to tell this host's processes apart: {0}"
    )]
    NetnsCookie(#[source] std::io::Error),
    #[error("cannot listen on {addr} for /metrics: {source}; pick another --metrics-addr")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}
