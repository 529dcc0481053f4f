//! Integration tests: each starts the real `coral-colony` binary with a
//! temporary data directory and talks to it as agents and users do.

mod bad_input;
mod discovery;
mod enrollment;
mod ingest;
mod inventory;
mod mesh;
mod restart;
mod support;
