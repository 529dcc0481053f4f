//! Integration tests: each starts the real `coral-discovery` binary on an
//! ephemeral port and talks to it as users do (curl-style JSON, tonic).

mod bad_input;
mod grpc;
mod json_api;
mod load;
mod operations;
mod support;
mod ttl;
