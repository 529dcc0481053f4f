//! [`ColonySettings`]: everything a colony is told before it starts. It is
//! the one model of a colony's configuration: the operator renders it from
//! a Colony resource into `colony.yaml`, `coral-colony` loads that file and
//! lets its flags override it field by field, and `coral colony start`
//! builds it from the user's colony file. Defaults and range checks live
//! here and nowhere else.
//!
//! Secrets are never written to the file: it names where they are mounted
//! (`privateKeyFile`, `enrollmentTokenFile`, `passwordFile`), and a token
//! given directly (a flag, or the CLI's colony file) stays in memory.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use coral_mesh_addressing::{MeshIpv4Cidr, MeshIpv6Cidr, MeshNetwork};
use serde::{Deserialize, Serialize};

use crate::kubernetes_colony::KubernetesColony;
use crate::secret::SecretString;

/// Defaults: the values a colony takes when nobody says otherwise.
pub mod defaults {
    pub const APPLICATION: &str = "my-app";
    pub const ENVIRONMENT: &str = "dev";
    /// gRPC and Connect-JSON for agents, the CLI and tools.
    pub const CONNECT_PORT: u16 = 9000;
    /// UDP port of the colony's WireGuard hub.
    pub const MESH_PORT: u16 = 41580;
    pub const MESH_INTERFACE: &str = "coral0";
    pub const DISCOVERY_INTERVAL_SECONDS: u32 = 60;
    pub const INVENTORY_INTERVAL_SECONDS: u32 = 5;
    pub const FLOW_DAYS: u32 = 7;
    pub const HOURLY_FLOW_DAYS: u32 = 30;
    pub const EVENT_DAYS: u32 = 30;
    pub const PURGE_INTERVAL_SECONDS: u32 = 600;
    pub const CLICKHOUSE_DATABASE: &str = "coral";
    pub const CLICKHOUSE_USER: &str = "default";
}

/// Accepted ranges, checked by [`ColonySettings::validate`] and mirrored by
/// the Colony CRD's schema (a test in the CRD crate keeps them equal).
pub mod limits {
    use std::ops::RangeInclusive;

    pub const FLOW_DAYS: RangeInclusive<u32> = 1..=365;
    pub const HOURLY_FLOW_DAYS: RangeInclusive<u32> = 1..=3_650;
    pub const EVENT_DAYS: RangeInclusive<u32> = 1..=3_650;
    pub const DISCOVERY_INTERVAL_SECONDS: RangeInclusive<u32> = 1..=3_600;
    pub const INVENTORY_INTERVAL_SECONDS: RangeInclusive<u32> = 1..=3_600;
    pub const PURGE_INTERVAL_SECONDS: RangeInclusive<u32> = 1..=86_400;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ColonySettings {
    #[serde(default = "default_application")]
    pub application: String,
    #[serde(default = "default_environment")]
    pub environment: String,
    /// Default: `<application>-<environment>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colony_id: Option<String>,
    /// Port serving gRPC and Connect-JSON (0 picks a free port).
    #[serde(default = "default_connect_port")]
    pub connect_port: u16,
    /// Address the connect port listens on.
    #[serde(default = "default_bind", skip_serializing_if = "is_default_bind")]
    pub bind: IpAddr,
    #[serde(default)]
    pub storage: StorageSettings,
    #[serde(default)]
    pub mesh: MeshSettings,
    /// coral-discovery to register with (none: no registration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_endpoint: Option<String>,
    #[serde(
        default = "default_discovery_interval",
        skip_serializing_if = "is_default_discovery_interval"
    )]
    pub discovery_interval_seconds: u32,
    /// In Kubernetes: `namespace/name` of the Colony resource this colony
    /// serves; it then keeps the component inventory of its Connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_colony: Option<KubernetesColony>,
    #[serde(
        default = "default_inventory_interval",
        skip_serializing_if = "is_default_inventory_interval"
    )]
    pub inventory_interval_seconds: u32,
    #[serde(default)]
    pub retention: RetentionSettings,
}

/// Where the colony keeps flows. Both keep the colony's own small state
/// (its WireGuard key, agents' endpoints) in `dataDir`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "backend", deny_unknown_fields)]
pub enum StorageSettings {
    /// The embedded store: `colony.duckdb` in the data directory.
    #[serde(rename_all = "camelCase")]
    Duckdb {
        /// Default: `~/.coral/colonies/<colony-id>`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data_dir: Option<PathBuf>,
    },
    #[serde(rename_all = "camelCase")]
    Clickhouse {
        /// HTTP interface, e.g. `http://clickhouse:8123`.
        url: String,
        #[serde(default = "default_clickhouse_database")]
        database: String,
        #[serde(default = "default_clickhouse_user")]
        user: String,
        /// File holding the password (a mounted Secret); none: empty.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password_file: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data_dir: Option<PathBuf>,
    },
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings::Duckdb { data_dir: None }
    }
}

impl StorageSettings {
    pub fn data_dir(&self) -> Option<&Path> {
        match self {
            StorageSettings::Duckdb { data_dir } | StorageSettings::Clickhouse { data_dir, .. } => {
                data_dir.as_deref()
            }
        }
    }

    pub fn set_data_dir(&mut self, dir: PathBuf) {
        match self {
            StorageSettings::Duckdb { data_dir } | StorageSettings::Clickhouse { data_dir, .. } => {
                *data_dir = Some(dir)
            }
        }
    }

    /// `duckdb` or `clickhouse`, as logs and status name it.
    pub fn backend_name(&self) -> &'static str {
        match self {
            StorageSettings::Duckdb { .. } => "duckdb",
            StorageSettings::Clickhouse { .. } => "clickhouse",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MeshSettings {
    /// False runs the colony without its WireGuard hub: agents then report
    /// on the connect port, unencrypted (local development only).
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Agents get addresses from it; host 1 is the colony.
    #[serde(default, deserialize_with = "ipv4_cidr")]
    pub ipv4_cidr: MeshIpv4Cidr,
    /// Agents' IPv6 addresses: the same host number in this /64.
    #[serde(default, deserialize_with = "ipv6_cidr")]
    pub ipv6_cidr: MeshIpv6Cidr,
    /// UDP port of the WireGuard hub.
    #[serde(default = "default_mesh_port")]
    pub listen_port: u16,
    /// WireGuard endpoint advertised to agents and discovery (`host:port`);
    /// default `:<listenPort>`, which agents read as the host they enrolled
    /// through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_endpoint: Option<String>,
    /// Name of the mesh's TUN device.
    #[serde(
        default = "default_mesh_interface",
        skip_serializing_if = "is_default_mesh_interface"
    )]
    pub interface: String,
    /// The colony's WireGuard private key (as `wg genkey` prints it);
    /// default: generated once into the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_file: Option<PathBuf>,
    /// File holding the token agents present to enroll (a mounted Secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_token_file: Option<PathBuf>,
    /// The token itself, when given directly rather than in a file. Never
    /// written to a file or a log.
    #[serde(skip)]
    pub enrollment_token: Option<SecretString>,
}

impl Default for MeshSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            ipv4_cidr: MeshIpv4Cidr::default(),
            ipv6_cidr: MeshIpv6Cidr::default(),
            listen_port: defaults::MESH_PORT,
            public_endpoint: None,
            interface: defaults::MESH_INTERFACE.into(),
            private_key_file: None,
            enrollment_token_file: None,
            enrollment_token: None,
        }
    }
}

impl MeshSettings {
    /// Both address families of the mesh.
    pub fn network(&self) -> MeshNetwork {
        MeshNetwork::new(self.ipv4_cidr, self.ipv6_cidr)
    }

    /// The WireGuard endpoint agents and discovery are told: the one given,
    /// else ":<port>" (no host: agents use the host they enrolled through).
    pub fn advertised_endpoint(&self) -> String {
        self.public_endpoint
            .clone()
            .unwrap_or_else(|| format!(":{}", self.listen_port))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionSettings {
    /// Days minute rollups (and the batch ledger) are kept; older ones are
    /// folded into hourly rollups.
    #[serde(default = "default_flow_days")]
    pub flow_days: u32,
    /// Days hourly rollups are kept (at least `flowDays`).
    #[serde(default = "default_hourly_flow_days")]
    pub hourly_flow_days: u32,
    /// Days events (deploys, restarts, OOM kills, scaling) are kept.
    #[serde(default = "default_event_days")]
    pub event_days: u32,
    #[serde(
        default = "default_purge_interval",
        skip_serializing_if = "is_default_purge_interval"
    )]
    pub purge_interval_seconds: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            flow_days: defaults::FLOW_DAYS,
            hourly_flow_days: defaults::HOURLY_FLOW_DAYS,
            event_days: defaults::EVENT_DAYS,
            purge_interval_seconds: defaults::PURGE_INTERVAL_SECONDS,
        }
    }
}

impl Default for ColonySettings {
    fn default() -> Self {
        Self {
            application: defaults::APPLICATION.into(),
            environment: defaults::ENVIRONMENT.into(),
            colony_id: None,
            connect_port: defaults::CONNECT_PORT,
            bind: default_bind(),
            storage: StorageSettings::default(),
            mesh: MeshSettings::default(),
            discovery_endpoint: None,
            discovery_interval_seconds: defaults::DISCOVERY_INTERVAL_SECONDS,
            kubernetes_colony: None,
            inventory_interval_seconds: defaults::INVENTORY_INTERVAL_SECONDS,
            retention: RetentionSettings::default(),
        }
    }
}

/// A setting out of its range, or settings that contradict each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{field} is {value}; it must be {min} to {max}")]
    OutOfRange {
        field: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    #[error(
        "hourly rollups must be kept at least as long as minute rollups (they are made from \
         them): retention.hourlyFlowDays (--hourly-retention-days) {hours} is less than \
         retention.flowDays (--retention-days) {minutes}"
    )]
    HourlyRetention { hours: u32, minutes: u32 },
    #[error("{field} {value:?} is not valid: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// `colony.yaml` could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read the colony config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the colony config file {path} is not valid: {detail}")]
    Invalid { path: PathBuf, detail: String },
}

impl ColonySettings {
    /// Reads and validates `colony.yaml`.
    pub fn load(path: &Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |detail: String| ConfigFileError::Invalid {
            path: path.to_owned(),
            detail,
        };
        let settings = Self::parse(&text).map_err(|error| invalid(error.to_string()))?;
        settings
            .validate()
            .map_err(|error| invalid(error.to_string()))?;
        Ok(settings)
    }

    /// Parses YAML; the error names the offending field and line. Values are
    /// checked by [`ColonySettings::validate`].
    pub fn parse(text: &str) -> Result<Self, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }

    pub fn to_yaml(&self) -> String {
        // Plain structs of strings and numbers always serialize.
        serde_yaml::to_string(self).unwrap_or_default()
    }

    /// The one place ranges and cross-field rules are checked.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let retention = &self.retention;
        in_range("retention.flowDays", retention.flow_days, limits::FLOW_DAYS)?;
        in_range(
            "retention.hourlyFlowDays",
            retention.hourly_flow_days,
            limits::HOURLY_FLOW_DAYS,
        )?;
        in_range(
            "retention.eventDays",
            retention.event_days,
            limits::EVENT_DAYS,
        )?;
        in_range(
            "retention.purgeIntervalSeconds",
            retention.purge_interval_seconds,
            limits::PURGE_INTERVAL_SECONDS,
        )?;
        in_range(
            "discoveryIntervalSeconds",
            self.discovery_interval_seconds,
            limits::DISCOVERY_INTERVAL_SECONDS,
        )?;
        in_range(
            "inventoryIntervalSeconds",
            self.inventory_interval_seconds,
            limits::INVENTORY_INTERVAL_SECONDS,
        )?;
        if retention.hourly_flow_days < retention.flow_days {
            return Err(SettingsError::HourlyRetention {
                hours: retention.hourly_flow_days,
                minutes: retention.flow_days,
            });
        }
        for (field, value) in [
            ("application", &self.application),
            ("environment", &self.environment),
        ] {
            if value.is_empty() || value.len() > 63 {
                return Err(SettingsError::Invalid {
                    field,
                    value: value.clone(),
                    reason: "use 1 to 63 characters",
                });
            }
        }
        if let StorageSettings::Clickhouse { url, .. } = &self.storage
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(SettingsError::Invalid {
                field: "storage.url",
                value: url.clone(),
                reason: "use the ClickHouse HTTP interface, e.g. http://localhost:8123",
            });
        }
        Ok(())
    }

    pub fn colony_id(&self) -> String {
        self.colony_id
            .clone()
            .unwrap_or_else(|| format!("{}-{}", self.application, self.environment))
    }

    /// The data directory given, else `~/.coral/colonies/<colony-id>`
    /// (`None` when there is no home directory either).
    pub fn data_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = self.storage.data_dir() {
            return Some(dir.to_owned());
        }
        let home = std::env::var_os("HOME")?;
        Some(
            PathBuf::from(home)
                .join(".coral")
                .join("colonies")
                .join(self.colony_id()),
        )
    }
}

/// The mesh networks, with the field named in the error (the YAML error's
/// own path stops at `mesh`).
fn ipv4_cidr<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<MeshIpv4Cidr, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse()
        .map_err(|error| serde::de::Error::custom(format!("ipv4Cidr: {error}")))
}

fn ipv6_cidr<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<MeshIpv6Cidr, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse()
        .map_err(|error| serde::de::Error::custom(format!("ipv6Cidr: {error}")))
}

fn in_range(
    field: &'static str,
    value: u32,
    range: RangeInclusive<u32>,
) -> Result<(), SettingsError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(SettingsError::OutOfRange {
            field,
            value,
            min: *range.start(),
            max: *range.end(),
        })
    }
}

fn default_application() -> String {
    defaults::APPLICATION.into()
}
fn default_environment() -> String {
    defaults::ENVIRONMENT.into()
}
fn default_connect_port() -> u16 {
    defaults::CONNECT_PORT
}
fn default_bind() -> IpAddr {
    IpAddr::V4(Ipv4Addr::UNSPECIFIED)
}
fn is_default_bind(bind: &IpAddr) -> bool {
    *bind == default_bind()
}
fn default_discovery_interval() -> u32 {
    defaults::DISCOVERY_INTERVAL_SECONDS
}
fn is_default_discovery_interval(value: &u32) -> bool {
    *value == defaults::DISCOVERY_INTERVAL_SECONDS
}
fn default_inventory_interval() -> u32 {
    defaults::INVENTORY_INTERVAL_SECONDS
}
fn is_default_inventory_interval(value: &u32) -> bool {
    *value == defaults::INVENTORY_INTERVAL_SECONDS
}
fn default_true() -> bool {
    true
}
fn is_true(value: &bool) -> bool {
    *value
}
fn default_mesh_port() -> u16 {
    defaults::MESH_PORT
}
fn default_mesh_interface() -> String {
    defaults::MESH_INTERFACE.into()
}
fn is_default_mesh_interface(value: &str) -> bool {
    value == defaults::MESH_INTERFACE
}
fn default_flow_days() -> u32 {
    defaults::FLOW_DAYS
}
fn default_hourly_flow_days() -> u32 {
    defaults::HOURLY_FLOW_DAYS
}
fn default_event_days() -> u32 {
    defaults::EVENT_DAYS
}
fn default_purge_interval() -> u32 {
    defaults::PURGE_INTERVAL_SECONDS
}
fn is_default_purge_interval(value: &u32) -> bool {
    *value == defaults::PURGE_INTERVAL_SECONDS
}
fn default_clickhouse_database() -> String {
    defaults::CLICKHOUSE_DATABASE.into()
}
fn default_clickhouse_user() -> String {
    defaults::CLICKHOUSE_USER.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ColonySettings {
        ColonySettings {
            application: "shop".into(),
            environment: "prod".into(),
            storage: StorageSettings::Duckdb {
                data_dir: Some("/var/lib/coral".into()),
            },
            mesh: MeshSettings {
                private_key_file: Some("/var/run/coral/keys/wireguard.key".into()),
                enrollment_token_file: Some("/var/run/coral/keys/enrollment-token".into()),
                ..MeshSettings::default()
            },
            kubernetes_colony: Some("shop/shop-prod".parse().unwrap()),
            ..ColonySettings::default()
        }
    }

    #[test]
    fn round_trips_through_yaml() {
        let settings = sample();
        let text = settings.to_yaml();
        assert!(text.contains("backend: duckdb"), "{text}");
        assert!(text.contains("dataDir: /var/lib/coral"), "{text}");
        assert!(text.contains("ipv4Cidr: 10.42.0.0/16"), "{text}");
        assert_eq!(ColonySettings::parse(&text).unwrap(), settings);
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let settings = ColonySettings::parse("{}").unwrap();
        assert_eq!(settings, ColonySettings::default());
        assert_eq!(settings.colony_id(), "my-app-dev");
        assert_eq!(settings.connect_port, 9000);
        assert_eq!(settings.mesh.listen_port, 41580);
        assert_eq!(settings.mesh.advertised_endpoint(), ":41580");
        assert_eq!(settings.mesh.network().colony_ipv6().to_string(), "fd42::1");
        assert_eq!(settings.retention.flow_days, 7);
        assert_eq!(settings.retention.hourly_flow_days, 30);
        assert_eq!(settings.retention.event_days, 30);
        settings.validate().unwrap();
    }

    #[test]
    fn a_misspelt_field_is_named() {
        let text = sample().to_yaml().replace("connectPort", "connectPrt");
        let error = ColonySettings::parse(&text).unwrap_err().to_string();
        assert!(error.contains("connectPrt"), "{error}");
    }

    #[test]
    fn a_mesh_without_room_for_agents_is_refused_while_parsing() {
        let text = sample().to_yaml().replace("10.42.0.0/16", "10.42.0.0/31");
        let error = ColonySettings::parse(&text).unwrap_err().to_string();
        assert!(error.contains("/8 to /30"), "{error}");
        let text = sample().to_yaml().replace("fd42::/64", "fd42::/48");
        assert!(ColonySettings::parse(&text).is_err());
    }

    #[test]
    fn ranges_and_cross_field_rules_are_checked_once() {
        let mut settings = sample();
        settings.retention.flow_days = 0;
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .contains("retention.flowDays is 0; it must be 1 to 365")
        );
        settings.retention.flow_days = 14;
        settings.retention.hourly_flow_days = 7;
        assert!(matches!(
            settings.validate(),
            Err(SettingsError::HourlyRetention {
                hours: 7,
                minutes: 14
            })
        ));
        let text = sample().to_yaml().replace("shop/shop-prod", "shop");
        let error = ColonySettings::parse(&text).unwrap_err().to_string();
        assert!(error.contains("NAMESPACE/NAME"), "{error}");
        let mut settings = sample();
        settings.storage = StorageSettings::Clickhouse {
            url: "clickhouse:8123".into(),
            database: "coral".into(),
            user: "default".into(),
            password_file: None,
            data_dir: None,
        };
        assert!(
            settings
                .validate()
                .unwrap_err()
                .to_string()
                .contains("http://")
        );
    }

    #[test]
    fn the_token_is_never_written_or_shown() {
        let mut settings = sample();
        settings.mesh.enrollment_token = Some(SecretString::new("s3cret-token".into()));
        assert!(!settings.to_yaml().contains("s3cret-token"));
        assert!(!format!("{settings:?}").contains("s3cret-token"));
    }
}
