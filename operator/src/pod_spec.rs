//! Small builders for the pod-spec parts that the colony StatefulSet and
//! Deployment, the reef Deployment and the node-agent DaemonSet share:
//! ports, mounts, volumes, environment variables, probes, security
//! contexts and selectors. Pure.
//!
//! Each builder sets only the fields it names. `apply::is_subset` compares
//! only the fields a desired object sets, so whatever the apiserver
//! defaults is left to it and an unchanged object is never re-applied.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, HostPathVolumeSource, KeyToPath, ObjectFieldSelector, Probe, SecretKeySelector,
    SecretVolumeSource, SecurityContext, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// File mode of mounted key material: readable by its owner only.
pub const OWNER_READ_ONLY: i32 = 0o400;

/// A named container port.
pub fn container_port(name: &str, number: i32, protocol: &str) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: number,
        protocol: Some(protocol.into()),
        ..Default::default()
    }
}

/// A volume mount. The apiserver drops `readOnly: false`, so a writable
/// mount leaves it unset and the live object matches the desired one.
pub fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// A volume with every key of a Secret as a file.
pub fn secret_volume(name: &str, secret_name: &str, default_mode: Option<i32>) -> Volume {
    Volume {
        name: name.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret_name.into()),
            default_mode,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A volume with one key of a Secret as the file `path`.
pub fn secret_key_volume(
    name: &str,
    secret_name: &str,
    key: &str,
    path: &str,
    default_mode: Option<i32>,
) -> Volume {
    Volume {
        name: name.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret_name.into()),
            items: Some(vec![KeyToPath {
                key: key.into(),
                path: path.into(),
                mode: None,
                user: None,
            }]),
            default_mode,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A volume with every key of a ConfigMap as a file.
pub fn config_map_volume(name: &str, config_map_name: &str) -> Volume {
    Volume {
        name: name.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map_name.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A path on the node; `type_` is checked by the kubelet (`Directory`, …).
pub fn host_path_volume(name: &str, path: &str, type_: &str) -> Volume {
    Volume {
        name: name.into(),
        host_path: Some(HostPathVolumeSource {
            path: path.into(),
            type_: Some(type_.into()),
        }),
        ..Default::default()
    }
}

/// Scratch space that lives as long as the pod.
pub fn empty_dir_volume(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

/// An environment variable with a literal value.
pub fn env_value(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// An environment variable read from a Secret key; `optional: None` leaves
/// the apiserver's default (required).
pub fn env_from_secret(name: &str, secret_name: &str, key: &str, optional: Option<bool>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret_name.into(),
                key: key.into(),
                optional,
            }),
            ..Default::default()
        }),
        value: None,
    }
}

/// An environment variable from a field of the pod (`spec.nodeName`, …).
pub fn env_from_field(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: field_path.into(),
                api_version: None,
            }),
            ..Default::default()
        }),
        value: None,
    }
}

/// A probe that opens a TCP connection to `port`.
pub fn tcp_probe(port: i32, period_seconds: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::Int(port),
            host: None,
        }),
        period_seconds: Some(period_seconds),
        ..Default::default()
    }
}

/// A probe that GETs `path` on the named container port.
pub fn http_probe(path: &str, port_name: &str, period_seconds: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(port_name.into()),
            ..Default::default()
        }),
        period_seconds: Some(period_seconds),
        ..Default::default()
    }
}

/// The container security context every Coral container starts from: no
/// privilege escalation and a read-only root filesystem. Each workload adds
/// its user and capabilities with struct update syntax.
pub fn locked_down() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        ..Default::default()
    }
}

/// Exactly the capabilities in `add`: every other one is dropped.
pub fn only_capabilities<'a>(add: impl IntoIterator<Item = &'a str>) -> Capabilities {
    Capabilities {
        add: Some(add.into_iter().map(str::to_string).collect()),
        drop: Some(vec!["ALL".into()]),
    }
}

/// A selector matching exactly `labels`.
pub fn match_labels(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        match_expressions: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writable_mounts_leave_read_only_unset() {
        assert_eq!(mount("data", "/data", false).read_only, None);
        assert_eq!(mount("keys", "/keys", true).read_only, Some(true));
    }

    #[test]
    fn only_capabilities_drops_all_others() {
        let capabilities = only_capabilities(["NET_ADMIN"]);
        assert_eq!(capabilities.add, Some(vec!["NET_ADMIN".to_string()]));
        assert_eq!(capabilities.drop, Some(vec!["ALL".to_string()]));
    }
}
