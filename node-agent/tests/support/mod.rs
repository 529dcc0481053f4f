//! Network namespaces, TCP traffic and the binaries under test. Each test
//! crate uses a part of it.
#![allow(dead_code)]

pub mod colony;
pub mod netns;
pub mod traffic;
