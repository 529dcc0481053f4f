//! Everything about who is who on a Coral mesh, without the tunnel itself:
//! address blocks ([`IpCidr`]), the mesh networks a colony hands addresses
//! out of ([`MeshNetwork`]), WireGuard keys ([`SecretKey`], [`PublicKey`])
//! and agent enrollment tokens. The CRD validation, the operator, the colony,
//! the node-agent and the CLI all parse and allocate through this one crate,
//! so a CIDR one of them accepts is a CIDR all of them accept.

mod cidr;
mod keys;
mod network;
mod token;

pub use cidr::{CidrError, IpCidr};
pub use keys::{KeyError, PublicKey, SecretKey};
pub use network::{
    DEFAULT_IPV4_CIDR, DEFAULT_IPV6_CIDR, IPV4_PREFIXES, IPV6_PREFIX, MeshIpv4Cidr, MeshIpv6Cidr,
    MeshNetwork, NetworkError,
};
pub use token::enrollment_token;
