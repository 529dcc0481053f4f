//! Generated Coral API types. Each package is a module named after its
//! protobuf package; every message implements `prost::Message` for gRPC and
//! `serde` in proto3-JSON form (camelCase names, int64 as strings, RFC 3339
//! timestamps) for Connect-JSON.

/// Encoded `FileDescriptorSet` of every Coral proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/coral_descriptor.bin"));

pub use pbjson_types;

mod timestamp;
pub use timestamp::Timestamp;

macro_rules! proto_package {
    ($file:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $file, ".rs"));
        include!(concat!(env!("OUT_DIR"), "/", $file, ".serde.rs"));
    };
}

pub mod discovery {
    pub mod v1 {
        #![allow(clippy::all, missing_docs)]
        proto_package!("coral.discovery.v1");
    }
}

pub mod colony {
    pub mod v1 {
        #![allow(clippy::all, missing_docs)]
        proto_package!("coral.colony.v1");
    }
}

pub mod agent {
    pub mod v1 {
        #![allow(clippy::all, missing_docs)]
        proto_package!("coral.agent.v1");
    }

    mod kind;
    pub mod limits;
}

pub mod reef {
    pub mod v1 {
        #![allow(clippy::all, missing_docs)]
        proto_package!("coral.reef.v1");
    }
}
