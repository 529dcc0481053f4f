//! The colony's config file (`colony.yaml` in its ConfigMap), built from the
//! Colony spec. Secrets are never copied here; the file names where they are
//! mounted instead.

use coral_colony_config::{
    ColonyConfigFile, DashboardConfig, MeshConfig, RetentionConfig, StorageConfig,
};
use coral_crds::ColonySpec;

use super::CONNECT_PORT;

pub const CONFIG_KEY: &str = "colony.yaml";
pub const CONFIG_DIR: &str = "/etc/coral";
pub const KEYS_DIR: &str = "/var/run/coral/keys";
pub const DATA_DIR: &str = "/var/lib/coral";

/// The schema bounds these; out-of-range numbers fall back to the defaults.
fn port(value: i32, default: u16) -> u16 {
    u16::try_from(value).unwrap_or(default)
}

fn days(value: i32, default: u32) -> u32 {
    u32::try_from(value).unwrap_or(default)
}

/// Where a ClickHouse password Secret key is mounted in the colony pod.
pub const CLICKHOUSE_PASSWORD_FILE: &str = "/var/run/coral/clickhouse/password";

/// Renders `colony.yaml` for a Colony in `namespace`.
pub fn render(spec: &ColonySpec, namespace: &str, colony_name: &str) -> String {
    let storage = match &spec.storage.clickhouse {
        Some(ch) => StorageConfig::Clickhouse {
            url: ch.url.clone(),
            database: ch.database.clone(),
            user: ch.user.clone(),
            password_file: ch
                .password_secret_ref
                .as_ref()
                .map(|_| CLICKHOUSE_PASSWORD_FILE.into()),
            data_dir: DATA_DIR.into(),
        },
        None => StorageConfig::Duckdb {
            data_dir: DATA_DIR.into(),
        },
    };
    let file = ColonyConfigFile {
        application: spec.application.clone(),
        environment: spec.environment.clone(),
        colony_id: None,
        connect_port: port(CONNECT_PORT, 9000),
        storage,
        mesh: MeshConfig {
            ipv4_cidr: spec.mesh.ipv4_cidr.clone(),
            ipv6_cidr: spec.mesh.ipv6_cidr.clone(),
            listen_port: port(spec.mesh.port, 41580),
            public_endpoint: spec.mesh.public_endpoint.clone(),
            private_key_file: format!("{KEYS_DIR}/{}", crate::keys::PRIVATE_KEY).into(),
            enrollment_token_file: format!("{KEYS_DIR}/{}", crate::keys::ENROLLMENT_TOKEN).into(),
        },
        discovery_endpoint: spec.discovery.as_ref().map(|d| d.endpoint.clone()),
        kubernetes_colony: Some(format!("{namespace}/{colony_name}")),
        reef: spec
            .reef_ref
            .as_ref()
            .map(|r| format!("{}/{}", r.namespace.as_deref().unwrap_or(namespace), r.name)),
        dashboard: DashboardConfig {
            enabled: spec.dashboard.enabled,
            port: port(spec.dashboard.port, 3000),
        },
        retention: RetentionConfig {
            flow_days: days(spec.retention.flow_days, 7),
            hourly_flow_days: days(spec.retention.hourly_flow_days, 30),
            event_days: days(spec.retention.event_days, 30),
        },
    };
    file.to_yaml()
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
