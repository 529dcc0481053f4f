//! Test support: network namespaces made (and always removed) by the tests,
//! and tokio runtimes whose threads live inside one of them.

#![allow(dead_code)] // each test file uses a different part

pub mod lab;
pub mod ns_runtime;
pub mod traffic;
