//! `coral` commands on this machine: init, colony start/stop/list/current/
//! use/status, and status/topology against a local colony.

pub mod colony;
pub mod daemon;
pub mod init;
pub mod process;
pub mod start;
