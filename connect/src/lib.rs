//! gRPC + Connect-JSON on one port.
