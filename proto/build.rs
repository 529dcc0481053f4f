//! Compiles `coral/**/*.proto` with protox (pure Rust, no system `protoc`),
//! then generates tonic services and proto3-JSON serde impls (pbjson) from
//! the same descriptor set, so one message type serves gRPC and Connect-JSON.

use std::{env, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "coral/discovery/v1/discovery.proto",
    "coral/colony/v1/colony.proto",
    "coral/agent/v1/agent.proto",
    "coral/reef/v1/reef.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let descriptors = protox::compile(PROTOS, ["."])?;
    let descriptor_path = out_dir.join("coral_descriptor.bin");
    std::fs::write(&descriptor_path, descriptors.encode_to_vec())?;

    tonic_prost_build::configure()
        // pbjson_types supplies Timestamp etc. with proto3-JSON serde.
        .compile_well_known_types(true)
        .extern_path(".google.protobuf", "::pbjson_types")
        // …except Timestamp: proto3 JSON wants "…Z", pbjson_types writes "+00:00".
        .extern_path(".google.protobuf.Timestamp", "crate::Timestamp")
        .compile_fds(descriptors.clone())?;

    let descriptor_bytes = std::fs::read(&descriptor_path)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .build(&[
            ".coral.discovery.v1",
            ".coral.colony.v1",
            ".coral.agent.v1",
            ".coral.reef.v1",
        ])?;
    Ok(())
}
