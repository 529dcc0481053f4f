//! The colony's config file (`colony.yaml` in its ConfigMap), built from the
//! Colony spec. Secrets are never copied here; the file names where they are
//! mounted instead.

use coral_crds::ColonySpec;
use serde::Serialize;

use super::CONNECT_PORT;

pub const CONFIG_KEY: &str = "colony.yaml";
pub const CONFIG_DIR: &str = "/etc/coral";
pub const KEYS_DIR: &str = "/var/run/coral/keys";
pub const DATA_DIR: &str = "/var/lib/coral";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ColonyConfigFile<'a> {
    application: &'a str,
    environment: &'a str,
    connect_port: i32,
    storage: StorageConfig<'a>,
    mesh: MeshConfig<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discovery_endpoint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reef: Option<String>,
    dashboard: DashboardConfig,
    retention: RetentionConfig,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase", tag = "backend")]
enum StorageConfig<'a> {
    Duckdb {
        path: String,
    },
    Clickhouse {
        url: &'a str,
        database: &'a str,
        user: &'a str,
        password_file: Option<String>,
    },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeshConfig<'a> {
    ipv4_cidr: &'a str,
    ipv6_cidr: &'a str,
    listen_port: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_endpoint: Option<&'a str>,
    private_key_file: String,
    enrollment_token_file: String,
}

#[derive(Serialize)]
struct DashboardConfig {
    enabled: bool,
    port: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RetentionConfig {
    flow_days: i32,
    event_days: i32,
}

/// Where a ClickHouse password Secret key is mounted in the colony pod.
pub const CLICKHOUSE_PASSWORD_FILE: &str = "/var/run/coral/clickhouse/password";

/// Renders `colony.yaml` for a Colony in `namespace`.
pub fn render(spec: &ColonySpec, namespace: &str) -> String {
    let storage = match (&spec.storage.clickhouse, &spec.storage.duckdb) {
        (Some(ch), _) => StorageConfig::Clickhouse {
            url: &ch.url,
            database: &ch.database,
            user: &ch.user,
            password_file: ch
                .password_secret_ref
                .as_ref()
                .map(|_| CLICKHOUSE_PASSWORD_FILE.to_string()),
        },
        _ => StorageConfig::Duckdb {
            path: format!("{DATA_DIR}/colony.duckdb"),
        },
    };
    let file = ColonyConfigFile {
        application: &spec.application,
        environment: &spec.environment,
        connect_port: CONNECT_PORT,
        storage,
        mesh: MeshConfig {
            ipv4_cidr: &spec.mesh.ipv4_cidr,
            ipv6_cidr: &spec.mesh.ipv6_cidr,
            listen_port: spec.mesh.port,
            public_endpoint: spec.mesh.public_endpoint.as_deref(),
            private_key_file: format!("{KEYS_DIR}/{}", crate::keys::PRIVATE_KEY),
            enrollment_token_file: format!("{KEYS_DIR}/{}", crate::keys::ENROLLMENT_TOKEN),
        },
        discovery_endpoint: spec.discovery.as_ref().map(|d| d.endpoint.as_str()),
        reef: spec
            .reef_ref
            .as_ref()
            .map(|r| format!("{}/{}", r.namespace.as_deref().unwrap_or(namespace), r.name)),
        dashboard: DashboardConfig {
            enabled: spec.dashboard.enabled,
            port: spec.dashboard.port,
        },
        retention: RetentionConfig {
            flow_days: spec.retention.flow_days,
            event_days: spec.retention.event_days,
        },
    };
    // Serializing plain structs of strings and numbers cannot fail.
    serde_yaml::to_string(&file).unwrap_or_default()
}

/// FNV-1a of the config text: a stable pod-template annotation so that a
/// config change rolls the colony pod.
pub fn config_hash(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}
