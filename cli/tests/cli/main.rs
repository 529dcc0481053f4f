//! `coral` and `kubectl-coral` as real processes: every command, the error
//! cases, a real colony fed through its agent API, and the local cluster.

mod colony_flow;
mod connect;
mod errors;
mod golden;
mod kubectl;
mod proxy;
mod support;
