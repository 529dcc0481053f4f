//! Network namespaces and TCP traffic for the kernel tests.

pub mod netns;
pub mod traffic;
