//! The colony's config file (`colony.yaml` in its ConfigMap), built from the
//! Colony spec. Secrets are never copied here; the file names where they are
//! mounted instead. The dashboard and reef settings of the spec are not in
//! it: the colony does not serve either yet.

use coral_config::{ColonySettings, MeshSettings, RetentionSettings, StorageSettings, defaults};
use coral_crds::ColonySpec;

use super::CONNECT_PORT;

pub const CONFIG_KEY: &str = "colony.yaml";
pub const CONFIG_DIR: &str = "/etc/coral";
pub const KEYS_DIR: &str = "/var/run/coral/keys";
pub const DATA_DIR: &str = "/var/lib/coral";

/// Where a ClickHouse password Secret key is mounted in the colony pod.
pub const CLICKHOUSE_PASSWORD_FILE: &str = "/var/run/coral/clickhouse/password";

/// The schema bounds these numbers; one out of range (an object written
/// before the schema said so) falls back to the default.
fn port(value: i32, default: u16) -> u16 {
    u16::try_from(value).unwrap_or(default)
}

fn days(value: i32, default: u32) -> u32 {
    u32::try_from(value).unwrap_or(default)
}

/// Why a Colony's spec cannot become a colony's settings (the schema
/// rejects these already; a Colony stored under an older schema may not).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("spec.mesh.ipv4CIDR: {0}")]
    Ipv4Cidr(coral_mesh_addressing::NetworkError),
    #[error("spec.mesh.ipv6CIDR: {0}")]
    Ipv6Cidr(coral_mesh_addressing::NetworkError),
    #[error("metadata: {0}")]
    KubernetesColony(coral_config::KubernetesColonyError),
    #[error("spec: {0}")]
    Settings(#[from] coral_config::SettingsError),
}

/// The colony's settings for a Colony in `namespace`.
pub fn settings(
    spec: &ColonySpec,
    namespace: &str,
    colony_name: &str,
) -> Result<ColonySettings, RenderError> {
    let storage = match &spec.storage.clickhouse {
        Some(ch) => StorageSettings::Clickhouse {
            url: ch.url.clone(),
            database: ch.database.clone(),
            user: ch.user.clone(),
            password_file: ch
                .password_secret_ref
                .as_ref()
                .map(|_| CLICKHOUSE_PASSWORD_FILE.into()),
            data_dir: Some(DATA_DIR.into()),
        },
        None => StorageSettings::Duckdb {
            data_dir: Some(DATA_DIR.into()),
        },
    };
    let settings = ColonySettings {
        application: spec.application.clone(),
        environment: spec.environment.clone(),
        colony_id: None,
        connect_port: port(CONNECT_PORT, defaults::CONNECT_PORT),
        storage,
        mesh: MeshSettings {
            ipv4_cidr: spec.mesh.ipv4_cidr.parse().map_err(RenderError::Ipv4Cidr)?,
            ipv6_cidr: spec.mesh.ipv6_cidr.parse().map_err(RenderError::Ipv6Cidr)?,
            listen_port: port(spec.mesh.port, defaults::MESH_PORT),
            public_endpoint: spec.mesh.public_endpoint.clone(),
            private_key_file: Some(format!("{KEYS_DIR}/{}", crate::keys::PRIVATE_KEY).into()),
            enrollment_token_file: Some(
                format!("{KEYS_DIR}/{}", crate::keys::ENROLLMENT_TOKEN).into(),
            ),
            ..MeshSettings::default()
        },
        discovery_endpoint: spec.discovery.as_ref().map(|d| d.endpoint.clone()),
        kubernetes_colony: Some(
            format!("{namespace}/{colony_name}")
                .parse()
                .map_err(RenderError::KubernetesColony)?,
        ),
        retention: RetentionSettings {
            flow_days: days(spec.retention.flow_days, defaults::FLOW_DAYS),
            hourly_flow_days: days(spec.retention.hourly_flow_days, defaults::HOURLY_FLOW_DAYS),
            event_days: days(spec.retention.event_days, defaults::EVENT_DAYS),
            ..RetentionSettings::default()
        },
        ..ColonySettings::default()
    };
    settings.validate()?;
    Ok(settings)
}

/// Renders `colony.yaml` for a Colony in `namespace`.
pub fn render(
    spec: &ColonySpec,
    namespace: &str,
    colony_name: &str,
) -> Result<String, RenderError> {
    Ok(settings(spec, namespace, colony_name)?.to_yaml())
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
