//! `coral` commands on this machine: init, colony start/stop/list/current/
//! use/status, connect, and status/topology against a local colony.

pub mod colony;
pub mod connect;
pub mod daemon;
pub mod host_agent;
pub mod init;
pub mod process;
pub mod start;
