//! Input checks for every request. A request that fails here never touches
//! the registry; the error names the offending field.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coral_proto::discovery::v1::{RegisterAgentRequest, RegisterColonyRequest};

/// Longest mesh or agent id (a DNS name's limit, so ids can become names).
pub const MAX_ID_LEN: usize = 253;
pub const MAX_ENDPOINTS: usize = 16;
pub const MAX_METADATA_ENTRIES: usize = 32;
pub const MAX_METADATA_KEY_LEN: usize = 63;
pub const MAX_METADATA_VALUE_LEN: usize = 256;
const MAX_HOST_LEN: usize = 253;
const PUBKEY_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct ValidationError {
    pub field: String,
    pub reason: String,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ValidationError {
    ValidationError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Ids: 1–253 letters, digits, `.`, `_`, `-`, starting and ending with a
/// letter or digit (`my-app-dev-a1b2c3`).
pub fn check_id(field: &str, id: &str) -> Result<(), ValidationError> {
    const RULE: &str = "must be 1-253 characters of letters, digits, '.', '_' or '-', \
                        starting and ending with a letter or digit";
    if id.is_empty() {
        return Err(invalid(field, format!("must not be empty; it {RULE}")));
    }
    if id.len() > MAX_ID_LEN {
        return Err(invalid(
            field,
            format!("is {} characters long; it {RULE}", id.len()),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let edges_ok = id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !id.chars().all(allowed) || !edges_ok {
        return Err(invalid(field, format!("{id:?} {RULE}")));
    }
    Ok(())
}

/// A WireGuard public key: exactly 32 bytes in standard (padded) base64.
pub fn check_pubkey(field: &str, pubkey: &str) -> Result<(), ValidationError> {
    const RULE: &str =
        "must be a WireGuard public key: 32 bytes in standard base64 (44 characters ending in '=')";
    if pubkey.is_empty() {
        return Err(invalid(field, format!("must not be empty; it {RULE}")));
    }
    match STANDARD.decode(pubkey) {
        Ok(bytes) if bytes.len() == PUBKEY_LEN => Ok(()),
        Ok(bytes) => Err(invalid(
            field,
            format!("decodes to {} bytes; it {RULE}", bytes.len()),
        )),
        Err(error) => Err(invalid(
            field,
            format!("is not base64 ({error}); it {RULE}"),
        )),
    }
}

/// `host:port`, `[v6]:port`, or `:port` (any address of the registrant).
pub fn check_endpoint(field: &str, endpoint: &str) -> Result<(), ValidationError> {
    const RULE: &str = "must be host:port, [ipv6]:port or :port with a port from 1 to 65535";
    if endpoint.len() > MAX_HOST_LEN + 8 {
        return Err(invalid(field, format!("is too long; it {RULE}")));
    }
    if endpoint.starts_with('[') {
        return match endpoint.parse::<SocketAddr>() {
            Ok(addr) if addr.port() != 0 => Ok(()),
            _ => Err(invalid(field, format!("{endpoint:?} {RULE}"))),
        };
    }
    let Some((host, port)) = endpoint.rsplit_once(':') else {
        return Err(invalid(
            field,
            format!("{endpoint:?} has no port; it {RULE}"),
        ));
    };
    match port.parse::<u16>() {
        Ok(port) if port != 0 => {}
        _ => {
            return Err(invalid(
                field,
                format!("{endpoint:?} has an invalid port; it {RULE}"),
            ));
        }
    }
    if host.is_empty() || host.parse::<Ipv4Addr>().is_ok() || is_dns_name(host) {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{endpoint:?} has an invalid host; it {RULE}"),
        ))
    }
}

fn is_dns_name(host: &str) -> bool {
    host.len() <= MAX_HOST_LEN
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn check_endpoints(endpoints: &[String]) -> Result<(), ValidationError> {
    if endpoints.len() > MAX_ENDPOINTS {
        return Err(invalid(
            "endpoints",
            format!(
                "has {} entries; at most {MAX_ENDPOINTS} are allowed",
                endpoints.len()
            ),
        ));
    }
    for (index, endpoint) in endpoints.iter().enumerate() {
        check_endpoint(&format!("endpoints[{index}]"), endpoint)?;
    }
    Ok(())
}

/// An optional mesh address of a given family (empty means "not advertised").
fn check_mesh_ip<T: std::str::FromStr>(
    field: &str,
    family: &str,
    text: &str,
) -> Result<(), ValidationError> {
    if text.is_empty() || text.parse::<T>().is_ok() {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{text:?} is not an {family} address"),
        ))
    }
}

fn check_metadata(metadata: &HashMap<String, String>) -> Result<(), ValidationError> {
    if metadata.len() > MAX_METADATA_ENTRIES {
        return Err(invalid(
            "metadata",
            format!(
                "has {} entries; at most {MAX_METADATA_ENTRIES} are allowed",
                metadata.len()
            ),
        ));
    }
    for (key, value) in metadata {
        let key_ok = !key.is_empty()
            && key.len() <= MAX_METADATA_KEY_LEN
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
        if !key_ok {
            return Err(invalid(
                "metadata",
                format!(
                    "key {key:?} must be 1-{MAX_METADATA_KEY_LEN} letters, digits, '.', '_', '-' or '/'"
                ),
            ));
        }
        if value.len() > MAX_METADATA_VALUE_LEN {
            return Err(invalid(
                format!("metadata[{key}]"),
                format!(
                    "value is {} bytes; at most {MAX_METADATA_VALUE_LEN} are allowed",
                    value.len()
                ),
            ));
        }
    }
    Ok(())
}

pub fn check_register_colony(request: &RegisterColonyRequest) -> Result<(), ValidationError> {
    check_id("mesh_id", &request.mesh_id)?;
    check_pubkey("pubkey", &request.pubkey)?;
    check_endpoints(&request.endpoints)?;
    check_mesh_ip::<Ipv4Addr>("mesh_ipv4", "IPv4", &request.mesh_ipv4)?;
    check_mesh_ip::<Ipv6Addr>("mesh_ipv6", "IPv6", &request.mesh_ipv6)?;
    if !(1..=65_535).contains(&request.connect_port) {
        return Err(invalid(
            "connect_port",
            format!("{} must be a port from 1 to 65535", request.connect_port),
        ));
    }
    check_metadata(&request.metadata)
}

pub fn check_register_agent(request: &RegisterAgentRequest) -> Result<(), ValidationError> {
    check_id("agent_id", &request.agent_id)?;
    check_id("mesh_id", &request.mesh_id)?;
    check_pubkey("pubkey", &request.pubkey)?;
    check_endpoints(&request.endpoints)?;
    check_metadata(&request.metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

    fn colony() -> RegisterColonyRequest {
        RegisterColonyRequest {
            mesh_id: "my-app-dev-a1b2c3".into(),
            pubkey: KEY.into(),
            endpoints: vec![":41581".into(), "colony.example.com:41580".into()],
            mesh_ipv4: "10.42.0.1".into(),
            mesh_ipv6: "fd42::1".into(),
            connect_port: 9000,
            metadata: [("application".to_owned(), "my-app".to_owned())].into(),
        }
    }

    fn field_of(request: RegisterColonyRequest) -> String {
        check_register_colony(&request).unwrap_err().field
    }

    #[test]
    fn accepts_a_typical_registration() {
        check_register_colony(&colony()).unwrap();
    }

    #[test]
    fn ids_have_a_charset_and_a_length() {
        for bad in ["", "-x", "x-", "a b", "ü", "a/b"] {
            assert!(check_id("mesh_id", bad).is_err(), "{bad:?}");
        }
        assert!(check_id("mesh_id", &"a".repeat(MAX_ID_LEN)).is_ok());
        assert!(check_id("mesh_id", &"a".repeat(MAX_ID_LEN + 1)).is_err());
        assert!(check_id("mesh_id", "a.b_c-9").is_ok());
    }

    #[test]
    fn pubkeys_are_32_bytes_of_standard_base64() {
        assert!(check_pubkey("pubkey", KEY).is_ok());
        for bad in [
            "",
            "not base64!",
            "AAAA",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "_-_-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert!(check_pubkey("pubkey", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn endpoints_need_a_valid_port_and_host() {
        for good in [
            ":41581",
            "127.0.0.1:1",
            "[fd42::1]:41580",
            "a-b.example.com:65535",
        ] {
            assert!(check_endpoint("e", good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "host",
            "host:0",
            "host:65536",
            "host:x",
            "fd42::1:80",
            "[fd42::1]",
            "bad_host:1",
            "-a.com:1",
        ] {
            assert!(check_endpoint("e", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut r = colony();
        r.endpoints.push("nope".into());
        assert_eq!(field_of(r), "endpoints[2]");
        let mut r = colony();
        r.mesh_ipv4 = "fd42::1".into();
        assert_eq!(field_of(r), "mesh_ipv4");
        let mut r = colony();
        r.mesh_ipv6 = "10.42.0.1".into();
        assert_eq!(field_of(r), "mesh_ipv6");
        let mut r = colony();
        r.connect_port = 0;
        assert_eq!(field_of(r), "connect_port");
        let mut r = colony();
        r.connect_port = 70_000;
        assert_eq!(field_of(r), "connect_port");
        let mut r = colony();
        r.metadata
            .insert("k".into(), "v".repeat(MAX_METADATA_VALUE_LEN + 1));
        assert_eq!(field_of(r), "metadata[k]");
        let mut r = colony();
        r.metadata = (0..=MAX_METADATA_ENTRIES)
            .map(|i| (i.to_string(), String::new()))
            .collect();
        assert_eq!(field_of(r), "metadata");
        let mut r = colony();
        r.pubkey = "x".into();
        assert_eq!(field_of(r), "pubkey");
    }
}
