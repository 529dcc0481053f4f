//! `coral-colony`'s command line: `--config colony.yaml` (as the operator
//! renders it) and flags or environment variables that override it field
//! by field. Every flag is optional; what none sets keeps the value of
//! [`ColonySettings`], whose defaults and checks are the only ones.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use clap::builder::{RangedU64ValueParser, TypedValueParser};
use coral_config::{
    ColonySettings, ConfigFileError, KubernetesColony, SecretString, SettingsError,
    StorageSettings, defaults, limits,
};
use coral_mesh::{MeshIpv4Cidr, MeshIpv6Cidr};
use coral_telemetry::{LogFormat, LogLevel};

use crate::retention::Retention;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "coral-colony",
    version,
    about = "Colony: agents report flows to it; users and tools ask it about the application"
)]
pub struct ColonyFlags {
    /// Config file (`colony.yaml`, as the operator writes it); flags and
    /// environment variables override its values.
    #[arg(long, env = "CORAL_COLONY_CONFIG")]
    pub config: Option<PathBuf>,

    /// Colony id [default: <application>-<environment>].
    #[arg(long, env = "CORAL_COLONY_ID")]
    pub colony_id: Option<String>,

    /// Application observed [default: my-app].
    #[arg(long, env = "CORAL_APPLICATION")]
    pub application: Option<String>,

    /// Environment of the application [default: dev].
    #[arg(long, env = "CORAL_ENVIRONMENT")]
    pub environment: Option<String>,

    /// Where the colony keeps its state: the DuckDB file and its WireGuard
    /// key [default: ~/.coral/colonies/<colony-id>].
    #[arg(long, env = "CORAL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Where flows are stored: embedded DuckDB, or a ClickHouse server for
    /// large fleets [default: duckdb].
    #[arg(long, value_enum, env = "CORAL_STORAGE")]
    pub storage: Option<StorageBackend>,

    /// ClickHouse HTTP interface, e.g. http://clickhouse:8123 (with
    /// --storage clickhouse).
    #[arg(long, env = "CORAL_CLICKHOUSE_URL")]
    pub clickhouse_url: Option<String>,

    /// ClickHouse database; created if missing [default: coral].
    #[arg(long, env = "CORAL_CLICKHOUSE_DATABASE")]
    pub clickhouse_database: Option<String>,

    /// ClickHouse user [default: default].
    #[arg(long, env = "CORAL_CLICKHOUSE_USER")]
    pub clickhouse_user: Option<String>,

    /// File holding the ClickHouse password (a mounted Secret; none: empty).
    #[arg(long, env = "CORAL_CLICKHOUSE_PASSWORD_FILE")]
    pub clickhouse_password_file: Option<PathBuf>,

    /// Port serving gRPC and Connect-JSON (0 picks a free port and logs it)
    /// [default: 9000].
    #[arg(long, env = "CORAL_CONNECT_PORT")]
    pub connect_port: Option<u16>,

    /// Address to listen on [default: 0.0.0.0].
    #[arg(long, env = "CORAL_BIND")]
    pub bind: Option<IpAddr>,

    /// Token agents present to enroll (prefer --enrollment-token-file).
    #[arg(long, env = "CORAL_ENROLLMENT_TOKEN", hide_env_values = true)]
    pub enrollment_token: Option<String>,

    /// File holding the enrollment token (a mounted Secret).
    #[arg(
        long,
        env = "CORAL_ENROLLMENT_TOKEN_FILE",
        conflicts_with = "enrollment_token"
    )]
    pub enrollment_token_file: Option<PathBuf>,

    /// IPv4 mesh network agents get addresses from (.1 is the colony; a
    /// prefix from /8 to /30) [default: 10.42.0.0/16].
    #[arg(long, env = "CORAL_MESH_IPV4_CIDR")]
    pub mesh_ipv4_cidr: Option<MeshIpv4Cidr>,

    /// IPv6 mesh network, a /64 (agents get the same host number in it)
    /// [default: fd42::/64].
    #[arg(long, env = "CORAL_MESH_IPV6_CIDR")]
    pub mesh_ipv6_cidr: Option<MeshIpv6Cidr>,

    /// WireGuard endpoint advertised to agents and discovery (host:port)
    /// [default: ":<wireguard-port>", which agents read as the host they
    /// enrolled through].
    #[arg(long, env = "CORAL_PUBLIC_ENDPOINT")]
    pub public_endpoint: Option<String>,

    /// UDP port of the colony's WireGuard mesh hub [default: 41580].
    #[arg(long, env = "CORAL_WIREGUARD_PORT")]
    pub wireguard_port: Option<u16>,

    /// Name of the mesh's TUN device [default: coral0].
    #[arg(long, env = "CORAL_MESH_INTERFACE")]
    pub mesh_interface: Option<String>,

    /// Run without the WireGuard mesh: agents then report on the connect
    /// port, unencrypted (local development without CAP_NET_ADMIN only).
    #[arg(long, env = "CORAL_NO_MESH", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_mesh: bool,

    /// File holding the colony's WireGuard private key (as `wg genkey`
    /// prints it) [default: generated once into the data directory].
    #[arg(long, env = "CORAL_WIREGUARD_KEY_FILE")]
    pub wireguard_key_file: Option<PathBuf>,

    /// coral-discovery to register with, e.g. http://localhost:8080 (none:
    /// no registration).
    #[arg(long, env = "CORAL_DISCOVERY_ENDPOINT")]
    pub discovery_endpoint: Option<String>,

    /// Seconds between discovery registrations (keep it under the
    /// discovery TTL) [default: 60].
    #[arg(long, value_parser = within(limits::DISCOVERY_INTERVAL_SECONDS))]
    pub discovery_interval: Option<u32>,

    /// In Kubernetes: `NAMESPACE/NAME` of the Colony resource this colony
    /// serves. The colony then keeps the inventory of the components its
    /// Connections select, and their events, from the Kubernetes API (it
    /// needs list/watch on pods, deployments, statefulsets, daemonsets and
    /// connections in that namespace; the operator sets this up).
    #[arg(long, env = "CORAL_KUBERNETES_COLONY")]
    pub kubernetes_colony: Option<KubernetesColony>,

    /// Seconds between inventory passes over the watched objects
    /// [default: 5].
    #[arg(long, value_parser = within(limits::INVENTORY_INTERVAL_SECONDS))]
    pub inventory_interval: Option<u32>,

    /// Days minute rollups (and the batch ledger) are kept; older ones are
    /// folded into hourly rollups [default: 7].
    #[arg(long, value_parser = within(limits::FLOW_DAYS))]
    pub retention_days: Option<u32>,

    /// Days hourly rollups are kept (at least --retention-days)
    /// [default: 30].
    #[arg(long, value_parser = within(limits::HOURLY_FLOW_DAYS))]
    pub hourly_retention_days: Option<u32>,

    /// Days events (deploys, restarts, OOM kills, scaling) are kept
    /// [default: 30].
    #[arg(long, value_parser = within(limits::EVENT_DAYS))]
    pub event_retention_days: Option<u32>,

    /// Seconds between retention purges [default: 600].
    #[arg(long, value_parser = within(limits::PURGE_INTERVAL_SECONDS))]
    pub purge_interval: Option<u32>,

    #[arg(long, value_enum, default_value_t = LogLevel::Info, env = "CORAL_LOG_LEVEL")]
    pub log_level: LogLevel,

    /// Log format: human on a terminal and JSON otherwise, unless chosen.
    #[arg(long, value_enum, default_value_t = LogFormat::Auto, env = "CORAL_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// A flag's accepted range, taken from the settings' own limits so the
/// flag and the file agree; clap then names the flag in its error.
fn within(range: std::ops::RangeInclusive<u32>) -> impl TypedValueParser<Value = u32> {
    RangedU64ValueParser::<u32>::new().range(u64::from(*range.start())..=u64::from(*range.end()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageBackend {
    Duckdb,
    Clickhouse,
}

/// The store the colony opens, with everything needed to open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageChoice {
    Duckdb {
        data_dir: PathBuf,
    },
    Clickhouse {
        url: String,
        database: String,
        user: String,
        password: SecretString,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no enrollment token: pass --enrollment-token-file (or --enrollment-token / \
         CORAL_ENROLLMENT_TOKEN) so agents can enroll"
    )]
    NoToken,
    #[error("cannot read the enrollment token file {path}: {source}")]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the enrollment token {where_} is empty")]
    EmptyToken { where_: String },
    #[error("no --data-dir given and no home directory to default to; pass --data-dir")]
    NoDataDir,
    #[error(transparent)]
    File(#[from] ConfigFileError),
    #[error("{0}")]
    Settings(#[from] SettingsError),
    #[error("--storage clickhouse needs --clickhouse-url, e.g. http://localhost:8123")]
    NoClickHouseUrl,
    #[error("cannot read the ClickHouse password file {path}: {source}")]
    PasswordFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ColonyFlags {
    /// Flags and environment of this process, over `--config`.
    pub fn load() -> Result<(ColonyFlags, ColonySettings), ConfigError> {
        let flags = ColonyFlags::parse();
        let settings = flags.settings()?;
        Ok((flags, settings))
    }

    /// The settings: `--config` (or the defaults), then each flag given.
    pub fn settings(&self) -> Result<ColonySettings, ConfigError> {
        let mut settings = match &self.config {
            Some(path) => ColonySettings::load(path)?,
            None => ColonySettings::default(),
        };
        self.apply(&mut settings)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Overrides `settings` with every flag that was given.
    pub fn apply(&self, settings: &mut ColonySettings) -> Result<(), ConfigError> {
        fn set<T: Clone>(target: &mut T, flag: &Option<T>) {
            if let Some(value) = flag {
                *target = value.clone();
            }
        }
        set(&mut settings.application, &self.application);
        set(&mut settings.environment, &self.environment);
        if self.colony_id.is_some() {
            settings.colony_id = self.colony_id.clone();
        }
        set(&mut settings.connect_port, &self.connect_port);
        set(&mut settings.bind, &self.bind);
        self.apply_storage(&mut settings.storage)?;

        let mesh = &mut settings.mesh;
        mesh.enabled &= !self.no_mesh;
        set(&mut mesh.ipv4_cidr, &self.mesh_ipv4_cidr);
        set(&mut mesh.ipv6_cidr, &self.mesh_ipv6_cidr);
        set(&mut mesh.listen_port, &self.wireguard_port);
        set(&mut mesh.interface, &self.mesh_interface);
        if self.public_endpoint.is_some() {
            mesh.public_endpoint = self.public_endpoint.clone();
        }
        if self.wireguard_key_file.is_some() {
            mesh.private_key_file = self.wireguard_key_file.clone();
        }
        // A token given on the command line replaces the file's, and the
        // other way round: exactly one source is used.
        if let Some(token) = &self.enrollment_token {
            mesh.enrollment_token = Some(SecretString::new(token.clone()));
            mesh.enrollment_token_file = None;
        }
        if let Some(path) = &self.enrollment_token_file {
            mesh.enrollment_token_file = Some(path.clone());
            mesh.enrollment_token = None;
        }

        if self.discovery_endpoint.is_some() {
            settings.discovery_endpoint = self.discovery_endpoint.clone();
        }
        set(
            &mut settings.discovery_interval_seconds,
            &self.discovery_interval,
        );
        if self.kubernetes_colony.is_some() {
            settings.kubernetes_colony = self.kubernetes_colony.clone();
        }
        set(
            &mut settings.inventory_interval_seconds,
            &self.inventory_interval,
        );
        let retention = &mut settings.retention;
        set(&mut retention.flow_days, &self.retention_days);
        set(&mut retention.hourly_flow_days, &self.hourly_retention_days);
        set(&mut retention.event_days, &self.event_retention_days);
        set(&mut retention.purge_interval_seconds, &self.purge_interval);
        Ok(())
    }

    /// `--storage` switches the backend (keeping the data directory);
    /// the ClickHouse flags then adjust a ClickHouse store.
    fn apply_storage(&self, storage: &mut StorageSettings) -> Result<(), ConfigError> {
        let data_dir = self
            .data_dir
            .clone()
            .or_else(|| storage.data_dir().map(PathBuf::from));
        match (self.storage, &*storage) {
            (Some(StorageBackend::Duckdb), StorageSettings::Clickhouse { .. }) => {
                *storage = StorageSettings::Duckdb { data_dir: None };
            }
            (Some(StorageBackend::Clickhouse), StorageSettings::Duckdb { .. }) => {
                *storage = StorageSettings::Clickhouse {
                    url: self
                        .clickhouse_url
                        .clone()
                        .ok_or(ConfigError::NoClickHouseUrl)?,
                    database: defaults::CLICKHOUSE_DATABASE.into(),
                    user: defaults::CLICKHOUSE_USER.into(),
                    password_file: None,
                    data_dir: None,
                };
            }
            _ => {}
        }
        if let StorageSettings::Clickhouse {
            url,
            database,
            user,
            password_file,
            ..
        } = storage
        {
            if let Some(flag) = &self.clickhouse_url {
                *url = flag.clone();
            }
            if let Some(flag) = &self.clickhouse_database {
                *database = flag.clone();
            }
            if let Some(flag) = &self.clickhouse_user {
                *user = flag.clone();
            }
            if self.clickhouse_password_file.is_some() {
                *password_file = self.clickhouse_password_file.clone();
            }
        }
        if let Some(dir) = data_dir {
            storage.set_data_dir(dir);
        }
        Ok(())
    }
}

/// What the colony needs at run time that settings only point to: files
/// read, directories defaulted, durations made.
pub trait RuntimeSettings {
    fn data_dir_or_home(&self) -> Result<PathBuf, ConfigError>;
    fn storage_choice(&self) -> Result<StorageChoice, ConfigError>;
    fn enrollment_token(&self) -> Result<String, ConfigError>;
    fn retention_periods(&self) -> Retention;
    fn discovery_interval(&self) -> Duration;
    fn inventory_interval(&self) -> Duration;
    fn purge_interval(&self) -> Duration;
}

impl RuntimeSettings for ColonySettings {
    fn data_dir_or_home(&self) -> Result<PathBuf, ConfigError> {
        self.data_dir().ok_or(ConfigError::NoDataDir)
    }

    fn storage_choice(&self) -> Result<StorageChoice, ConfigError> {
        match &self.storage {
            StorageSettings::Duckdb { .. } => Ok(StorageChoice::Duckdb {
                data_dir: self.data_dir_or_home()?,
            }),
            StorageSettings::Clickhouse {
                url,
                database,
                user,
                password_file,
                ..
            } => {
                let password = match password_file {
                    Some(path) => std::fs::read_to_string(path)
                        .map_err(|source| ConfigError::PasswordFile {
                            path: path.clone(),
                            source,
                        })?
                        .trim_end_matches(['\r', '\n'])
                        .to_owned(),
                    None => String::new(),
                };
                Ok(StorageChoice::Clickhouse {
                    url: url.clone(),
                    database: database.clone(),
                    user: user.clone(),
                    password: SecretString::new(password),
                })
            }
        }
    }

    fn enrollment_token(&self) -> Result<String, ConfigError> {
        let mesh = &self.mesh;
        let (token, where_) = match (&mesh.enrollment_token, &mesh.enrollment_token_file) {
            (Some(token), _) => (token.expose().to_owned(), "given".to_owned()),
            (None, Some(path)) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::TokenFile {
                        path: path.clone(),
                        source,
                    })?;
                (text, format!("in {}", path.display()))
            }
            (None, None) => return Err(ConfigError::NoToken),
        };
        let token = token.trim().to_owned();
        if token.is_empty() {
            return Err(ConfigError::EmptyToken { where_ });
        }
        Ok(token)
    }

    fn retention_periods(&self) -> Retention {
        let days = |n: u32| Duration::from_secs(u64::from(n) * 86_400);
        Retention {
            minutes: days(self.retention.flow_days),
            hours: days(self.retention.hourly_flow_days),
            events: days(self.retention.event_days),
        }
    }

    fn discovery_interval(&self) -> Duration {
        Duration::from_secs(self.discovery_interval_seconds.into())
    }

    fn inventory_interval(&self) -> Duration {
        Duration::from_secs(self.inventory_interval_seconds.into())
    }

    fn purge_interval(&self) -> Duration {
        Duration::from_secs(self.retention.purge_interval_seconds.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coral_config::MeshSettings;

    fn settings_from<const N: usize>(args: [&str; N]) -> Result<ColonySettings, ConfigError> {
        ColonyFlags::try_parse_from(args).unwrap().settings()
    }

    #[test]
    fn defaults_are_the_documented_ports_and_periods() {
        let settings = settings_from(["coral-colony", "--enrollment-token", "t"]).unwrap();
        assert_eq!(settings.connect_port, 9000);
        assert_eq!(settings.colony_id(), "my-app-dev");
        assert_eq!(settings.mesh.network(), coral_mesh::MeshNetwork::default());
        let days = |n: u64| Duration::from_secs(n * 86_400);
        assert_eq!(
            settings.retention_periods(),
            Retention {
                minutes: days(7),
                hours: days(30),
                events: days(30),
            }
        );
        assert_eq!(settings.enrollment_token().unwrap(), "t");
        assert!(settings.mesh.enabled);
        assert_eq!(settings.mesh.interface, "coral0");
        // No host: agents use the one they reached the colony through.
        assert_eq!(settings.mesh.advertised_endpoint(), ":41580");
    }

    #[test]
    fn mesh_flags() {
        let settings = settings_from([
            "coral-colony",
            "--no-mesh",
            "--wireguard-port",
            "41581",
            "--public-endpoint",
            "colony.example.com:41581",
            "--mesh-ipv6-cidr",
            "fd43::/64",
        ])
        .unwrap();
        assert!(!settings.mesh.enabled);
        assert_eq!(settings.mesh.listen_port, 41581);
        assert_eq!(
            settings.mesh.advertised_endpoint(),
            "colony.example.com:41581"
        );
        assert_eq!(settings.mesh.network().colony_ipv6().to_string(), "fd43::1");
        let settings = settings_from(["coral-colony", "--wireguard-port", "5"]).unwrap();
        assert_eq!(settings.mesh.advertised_endpoint(), ":5");
    }

    #[test]
    fn token_file_is_trimmed_and_must_not_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let arg = path.to_str().unwrap();
        let settings = settings_from(["x", "--enrollment-token-file", arg]).unwrap();
        assert_eq!(settings.enrollment_token().unwrap(), "s3cret");
        std::fs::write(&path, " \n").unwrap();
        assert!(settings.enrollment_token().is_err());
        assert!(matches!(
            settings_from(["x"]).unwrap().enrollment_token(),
            Err(ConfigError::NoToken)
        ));
    }

    fn operator_file(dir: &std::path::Path) -> std::path::PathBuf {
        let settings = ColonySettings {
            application: "shop".into(),
            environment: "prod".into(),
            connect_port: 9100,
            storage: StorageSettings::Duckdb {
                data_dir: Some(dir.join("data")),
            },
            mesh: MeshSettings {
                ipv4_cidr: "10.50.0.0/16".parse().unwrap(),
                public_endpoint: Some("colony.example.com:41580".into()),
                private_key_file: Some(dir.join("keys/wireguard.key")),
                enrollment_token_file: Some(dir.join("keys/token")),
                ..MeshSettings::default()
            },
            discovery_endpoint: Some("http://discovery:8080".into()),
            kubernetes_colony: Some("shop/shop-prod".parse().unwrap()),
            retention: coral_config::RetentionSettings {
                flow_days: 3,
                hourly_flow_days: 20,
                event_days: 14,
                purge_interval_seconds: 600,
            },
            ..ColonySettings::default()
        };
        let path = dir.join("colony.yaml");
        std::fs::write(&path, settings.to_yaml()).unwrap();
        path
    }

    #[test]
    fn the_operator_file_fills_what_flags_leave_unset() {
        let dir = tempfile::tempdir().unwrap();
        let path = operator_file(dir.path());
        let settings = settings_from(["x", "--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(settings.colony_id(), "shop-prod");
        assert_eq!(settings.connect_port, 9100);
        assert_eq!(
            settings.data_dir_or_home().unwrap(),
            dir.path().join("data")
        );
        assert_eq!(
            settings.mesh.ipv4_cidr,
            "10.50.0.0/16".parse::<MeshIpv4Cidr>().unwrap()
        );
        assert_eq!(
            settings.mesh.public_endpoint.as_deref(),
            Some("colony.example.com:41580")
        );
        assert_eq!(
            settings.mesh.enrollment_token_file,
            Some(dir.path().join("keys/token"))
        );
        assert_eq!(
            settings.discovery_endpoint.as_deref(),
            Some("http://discovery:8080")
        );
        let days = |n: u64| Duration::from_secs(n * 86_400);
        assert_eq!(
            settings.retention_periods(),
            Retention {
                minutes: days(3),
                hours: days(20),
                events: days(14),
            }
        );
        assert_eq!(
            settings
                .kubernetes_colony
                .as_ref()
                .map(|c| (c.namespace.as_str(), c.name.as_str())),
            Some(("shop", "shop-prod"))
        );

        let overridden = settings_from([
            "x",
            "--config",
            path.to_str().unwrap(),
            "--connect-port",
            "0",
            "--enrollment-token",
            "t",
        ])
        .unwrap();
        assert_eq!(overridden.connect_port, 0);
        assert_eq!(overridden.mesh.enrollment_token_file, None);
        assert_eq!(overridden.enrollment_token().unwrap(), "t");
    }

    #[test]
    fn a_bad_file_names_itself_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = operator_file(dir.path());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("10.50.0.0/16", "10.50.0.0")).unwrap();
        let error = settings_from(["x", "--config", path.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("ipv4Cidr") && error.contains("colony.yaml"),
            "{error}"
        );
        let missing = dir.path().join("nope.yaml");
        let error = settings_from(["x", "--config", missing.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(error.contains("nope.yaml"), "{error}");
    }

    #[test]
    fn clickhouse_comes_from_flags_or_the_file() {
        assert!(matches!(
            settings_from(["x", "--storage", "clickhouse"]),
            Err(ConfigError::NoClickHouseUrl)
        ));
        let settings = settings_from([
            "x",
            "--storage",
            "clickhouse",
            "--clickhouse-url",
            "http://ch:8123",
        ])
        .unwrap();
        assert_eq!(
            settings.storage_choice().unwrap(),
            StorageChoice::Clickhouse {
                url: "http://ch:8123".into(),
                database: "coral".into(),
                user: "default".into(),
                password: SecretString::new(String::new()),
            }
        );

        let dir = tempfile::tempdir().unwrap();
        let path = operator_file(dir.path());
        let password = dir.path().join("password");
        std::fs::write(&password, "pw\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "backend: duckdb",
            &format!(
                "backend: clickhouse\n  url: http://clickhouse:8123\n  database: shop\n  \
                 user: coral\n  passwordFile: {}",
                password.display()
            ),
        );
        std::fs::write(&path, text).unwrap();
        let settings = settings_from(["x", "--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(
            settings.storage_choice().unwrap(),
            StorageChoice::Clickhouse {
                url: "http://clickhouse:8123".into(),
                database: "shop".into(),
                user: "coral".into(),
                password: SecretString::new("pw".into()),
            }
        );
        // The data directory stays the file's when the backend is ClickHouse.
        assert_eq!(
            settings.data_dir_or_home().unwrap(),
            dir.path().join("data")
        );
    }

    #[test]
    fn refuses_bad_values() {
        for args in [
            &["x", "--retention-days", "0"][..],
            &["x", "--retention-days", "366"],
            &["x", "--mesh-ipv4-cidr", "10.42.0.0"],
            &["x", "--mesh-ipv4-cidr", "10.42.0.0/31"],
            &["x", "--mesh-ipv6-cidr", "fd42::/48"],
            &[
                "x",
                "--enrollment-token",
                "a",
                "--enrollment-token-file",
                "f",
            ],
            &["x", "--log-level", "trace"],
        ] {
            assert!(ColonyFlags::try_parse_from(args).is_err(), "{args:?}");
        }
        let Err(short_hours) = settings_from([
            "x",
            "--retention-days",
            "14",
            "--hourly-retention-days",
            "7",
        ]) else {
            panic!("hourly rollups kept shorter than minute rollups were accepted");
        };
        assert!(
            short_hours
                .to_string()
                .contains("--hourly-retention-days) 7"),
            "{short_hours}"
        );
    }
}
