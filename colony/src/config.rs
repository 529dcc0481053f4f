//! Command-line flags and their environment variables.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use coral_colony_config::{ColonyConfigFile, ConfigFileError, StorageConfig};
use coral_logging::{LogFormat, LogLevel};

use crate::inventory::KubernetesColony;
use crate::mesh_network::MeshNetwork;
use crate::retention::Retention;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "coral-colony",
    version,
    about = "Colony: agents report flows to it; users and tools ask it about the application"
)]
pub struct Config {
    /// Config file (`colony.yaml`, as the operator writes it); flags and
    /// environment variables override its values.
    #[arg(long, env = "CORAL_COLONY_CONFIG")]
    pub config: Option<PathBuf>,

    /// Colony id (default: <application>-<environment>).
    #[arg(long, env = "CORAL_COLONY_ID")]
    pub colony_id: Option<String>,

    #[arg(long, default_value = "my-app", env = "CORAL_APPLICATION")]
    pub application: String,

    #[arg(long, default_value = "dev", env = "CORAL_ENVIRONMENT")]
    pub environment: String,

    /// Where the colony keeps its state: the DuckDB file and its WireGuard
    /// key (default: ~/.coral/colonies/<colony-id>).
    #[arg(long, env = "CORAL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Where flows are stored: embedded DuckDB, or a ClickHouse server for
    /// large fleets.
    #[arg(long, value_enum, default_value_t = StorageBackend::Duckdb, env = "CORAL_STORAGE")]
    pub storage: StorageBackend,

    /// ClickHouse HTTP interface, e.g. http://clickhouse:8123 (with
    /// --storage clickhouse).
    #[arg(long, env = "CORAL_CLICKHOUSE_URL")]
    pub clickhouse_url: Option<String>,

    /// ClickHouse database; created if missing.
    #[arg(long, default_value = crate::store::clickhouse::DEFAULT_DATABASE, env = "CORAL_CLICKHOUSE_DATABASE")]
    pub clickhouse_database: String,

    #[arg(long, default_value = "default", env = "CORAL_CLICKHOUSE_USER")]
    pub clickhouse_user: String,

    /// File holding the ClickHouse password (a mounted Secret; none: empty).
    #[arg(long, env = "CORAL_CLICKHOUSE_PASSWORD_FILE")]
    pub clickhouse_password_file: Option<PathBuf>,

    /// Port serving gRPC and Connect-JSON (0 picks a free port and logs it).
    #[arg(long, default_value_t = 9000, env = "CORAL_CONNECT_PORT")]
    pub connect_port: u16,

    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0", env = "CORAL_BIND")]
    pub bind: IpAddr,

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

    /// Mesh network agents get addresses from (.1 is the colony).
    #[arg(long, default_value = "10.42.0.0/16", env = "CORAL_MESH_IPV4_CIDR")]
    pub mesh_ipv4_cidr: MeshNetwork,

    /// WireGuard endpoint advertised to agents and discovery (host:port;
    /// default ":<wireguard-port>", which agents read as the host they
    /// enrolled through).
    #[arg(long, env = "CORAL_PUBLIC_ENDPOINT")]
    pub public_endpoint: Option<String>,

    /// UDP port of the colony's WireGuard mesh hub.
    #[arg(long, default_value_t = coral_mesh::DEFAULT_PORT, env = "CORAL_WIREGUARD_PORT")]
    pub wireguard_port: u16,

    /// Name of the mesh's TUN device.
    #[arg(long, default_value = coral_mesh::DEFAULT_INTERFACE, env = "CORAL_MESH_INTERFACE")]
    pub mesh_interface: String,

    /// Run without the WireGuard mesh: agents then report on the connect
    /// port, unencrypted (local development without CAP_NET_ADMIN only).
    #[arg(long, env = "CORAL_NO_MESH", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_mesh: bool,

    /// File holding the colony's WireGuard private key (as `wg genkey`
    /// prints it); default: generated once into the data directory.
    #[arg(long, env = "CORAL_WIREGUARD_KEY_FILE")]
    pub wireguard_key_file: Option<PathBuf>,

    /// coral-discovery to register with, e.g. http://localhost:8080 (none:
    /// no registration).
    #[arg(long, env = "CORAL_DISCOVERY_ENDPOINT")]
    pub discovery_endpoint: Option<String>,

    /// Seconds between discovery registrations (keep it under the
    /// discovery TTL).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3_600))]
    pub discovery_interval: u32,

    /// In Kubernetes: `NAMESPACE/NAME` of the Colony resource this colony
    /// serves. The colony then keeps the inventory of the components its
    /// Connections select, and their events, from the Kubernetes API (it
    /// needs list/watch on pods, deployments, statefulsets, daemonsets and
    /// connections in that namespace; the operator sets this up).
    #[arg(long, env = "CORAL_KUBERNETES_COLONY")]
    pub kubernetes_colony: Option<KubernetesColony>,

    /// Seconds between inventory passes over the watched objects.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=3_600))]
    pub inventory_interval: u32,

    /// Days minute rollups (and the batch ledger) are kept; older ones are
    /// folded into hourly rollups.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub retention_days: u32,

    /// Days hourly rollups are kept (at least --retention-days).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3_650))]
    pub hourly_retention_days: u32,

    /// Days events (deploys, restarts, OOM kills, scaling) are kept.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3_650))]
    pub event_retention_days: u32,

    /// Seconds between retention purges.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub purge_interval: u32,

    #[arg(long, value_enum, default_value_t = LogLevel::Info, env = "CORAL_LOG_LEVEL")]
    pub log_level: LogLevel,

    /// Log format: human on a terminal and JSON otherwise, unless chosen.
    #[arg(long, value_enum, default_value_t = LogFormat::Auto, env = "CORAL_LOG_FORMAT")]
    pub log_format: LogFormat,
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
        password: String,
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
    #[error("{field} in {path}: {detail}")]
    FileValue {
        path: PathBuf,
        field: &'static str,
        detail: String,
    },
    #[error("--storage clickhouse needs --clickhouse-url, e.g. http://localhost:8123")]
    NoClickHouseUrl,
    #[error("cannot read the ClickHouse password file {path}: {source}")]
    PasswordFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "hourly rollups must be kept at least as long as minute rollups (they are made from \
         them): --hourly-retention-days {hours} is less than --retention-days {minutes}"
    )]
    HourlyRetention { hours: u32, minutes: u32 },
}

impl Config {
    /// Flags and environment, then `--config` for whatever neither set.
    pub fn load() -> Result<Config, ConfigError> {
        Self::load_from(std::env::args_os())
    }

    pub fn load_from<I, T>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Config::command().get_matches_from(args);
        // The derive built the command, so its own matches always convert.
        let mut config = Config::from_arg_matches(&matches).expect("matches of Config::command");
        if let Some(path) = config.config.clone() {
            let file = ColonyConfigFile::load(&path)?;
            config.apply_file(&path, &file, &matches)?;
        }
        if config.hourly_retention_days < config.retention_days {
            return Err(ConfigError::HourlyRetention {
                hours: config.hourly_retention_days,
                minutes: config.retention_days,
            });
        }
        Ok(config)
    }

    /// Take each value from the file unless a flag or variable set it.
    fn apply_file(
        &mut self,
        path: &std::path::Path,
        file: &ColonyConfigFile,
        matches: &ArgMatches,
    ) -> Result<(), ConfigError> {
        let unset = |id: &str| {
            !matches!(
                matches.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        let bad = |field: &'static str, detail: String| ConfigError::FileValue {
            path: path.to_owned(),
            field,
            detail,
        };
        if let StorageConfig::Clickhouse {
            url,
            database,
            user,
            password_file,
            ..
        } = &file.storage
        {
            if unset("storage") {
                self.storage = StorageBackend::Clickhouse;
            }
            if unset("clickhouse_url") {
                self.clickhouse_url = Some(url.clone());
            }
            if unset("clickhouse_database") {
                self.clickhouse_database = database.clone();
            }
            if unset("clickhouse_user") {
                self.clickhouse_user = user.clone();
            }
            if unset("clickhouse_password_file") && password_file.is_some() {
                self.clickhouse_password_file = password_file.clone();
            }
        }
        if unset("application") {
            self.application = file.application.clone();
        }
        if unset("environment") {
            self.environment = file.environment.clone();
        }
        if unset("colony_id") && file.colony_id.is_some() {
            self.colony_id = file.colony_id.clone();
        }
        if unset("connect_port") {
            self.connect_port = file.connect_port;
        }
        if unset("data_dir") {
            self.data_dir = Some(file.storage.data_dir().to_owned());
        }
        if unset("mesh_ipv4_cidr") {
            self.mesh_ipv4_cidr = file
                .mesh
                .ipv4_cidr
                .parse()
                .map_err(|e: String| bad("mesh.ipv4Cidr", e))?;
        }
        if unset("public_endpoint")
            && let Some(endpoint) = &file.mesh.public_endpoint
        {
            self.public_endpoint = Some(endpoint.clone());
        }
        if unset("wireguard_port") {
            self.wireguard_port = file.mesh.listen_port;
        }
        if unset("wireguard_key_file") {
            self.wireguard_key_file = Some(file.mesh.private_key_file.clone());
        }
        if unset("enrollment_token") && unset("enrollment_token_file") {
            self.enrollment_token_file = Some(file.mesh.enrollment_token_file.clone());
        }
        if unset("discovery_endpoint") && file.discovery_endpoint.is_some() {
            self.discovery_endpoint = file.discovery_endpoint.clone();
        }
        if unset("kubernetes_colony")
            && let Some(colony) = &file.kubernetes_colony
        {
            self.kubernetes_colony = Some(colony.parse().map_err(|e| bad("kubernetesColony", e))?);
        }
        if unset("retention_days") {
            if !(1..=365).contains(&file.retention.flow_days) {
                return Err(bad("retention.flowDays", "must be 1 to 365".into()));
            }
            self.retention_days = file.retention.flow_days;
        }
        if unset("hourly_retention_days") {
            if !(1..=3_650).contains(&file.retention.hourly_flow_days) {
                return Err(bad("retention.hourlyFlowDays", "must be 1 to 3650".into()));
            }
            self.hourly_retention_days = file.retention.hourly_flow_days;
        }
        if unset("event_retention_days") {
            if !(1..=3_650).contains(&file.retention.event_days) {
                return Err(bad("retention.eventDays", "must be 1 to 3650".into()));
            }
            self.event_retention_days = file.retention.event_days;
        }
        Ok(())
    }

    pub fn colony_id(&self) -> String {
        self.colony_id
            .clone()
            .unwrap_or_else(|| format!("{}-{}", self.application, self.environment))
    }

    pub fn data_dir(&self) -> Result<PathBuf, ConfigError> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        let home = std::env::var_os("HOME").ok_or(ConfigError::NoDataDir)?;
        Ok(PathBuf::from(home)
            .join(".coral")
            .join("colonies")
            .join(self.colony_id()))
    }

    pub fn storage(&self) -> Result<StorageChoice, ConfigError> {
        match self.storage {
            StorageBackend::Duckdb => Ok(StorageChoice::Duckdb {
                data_dir: self.data_dir()?,
            }),
            StorageBackend::Clickhouse => {
                let url = self
                    .clickhouse_url
                    .clone()
                    .ok_or(ConfigError::NoClickHouseUrl)?;
                let password = match &self.clickhouse_password_file {
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
                    url,
                    database: self.clickhouse_database.clone(),
                    user: self.clickhouse_user.clone(),
                    password,
                })
            }
        }
    }

    pub fn enrollment_token(&self) -> Result<String, ConfigError> {
        let (token, where_) = match (&self.enrollment_token, &self.enrollment_token_file) {
            (Some(token), _) => (token.clone(), "given".to_owned()),
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

    pub fn retention(&self) -> Retention {
        let days = |n: u32| Duration::from_secs(u64::from(n) * 86_400);
        Retention {
            minutes: days(self.retention_days),
            hours: days(self.hourly_retention_days),
            events: days(self.event_retention_days),
        }
    }

    pub fn discovery_interval(&self) -> Duration {
        Duration::from_secs(self.discovery_interval.into())
    }

    pub fn purge_interval(&self) -> Duration {
        Duration::from_secs(self.purge_interval.into())
    }

    /// The WireGuard endpoint agents and discovery are told: the one given,
    /// else ":<port>" (no host: agents use the host they enrolled through).
    pub fn advertised_endpoint(&self) -> String {
        self.public_endpoint
            .clone()
            .unwrap_or_else(|| format!(":{}", self.wireguard_port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_defaults() {
        let config = Config::parse_from(["coral-colony", "--enrollment-token", "t"]);
        assert_eq!(config.connect_port, 9000);
        assert_eq!(config.colony_id(), "my-app-dev");
        assert_eq!(config.mesh_ipv4_cidr, MeshNetwork::default());
        let days = |n: u64| Duration::from_secs(n * 86_400);
        assert_eq!(
            config.retention(),
            Retention {
                minutes: days(7),
                hours: days(30),
                events: days(30),
            }
        );
        assert_eq!(config.enrollment_token().unwrap(), "t");
        assert!(!config.no_mesh);
        assert_eq!(config.mesh_interface, "coral0");
        // Like the discovery entry: no host, agents use the one they reached.
        assert_eq!(config.advertised_endpoint(), ":41580");
    }

    #[test]
    fn mesh_flags() {
        let config = Config::parse_from([
            "coral-colony",
            "--no-mesh",
            "--wireguard-port",
            "41581",
            "--public-endpoint",
            "colony.example.com:41581",
        ]);
        assert!(config.no_mesh);
        assert_eq!(config.wireguard_port, 41581);
        assert_eq!(config.advertised_endpoint(), "colony.example.com:41581");
        let config = Config::parse_from(["coral-colony", "--wireguard-port", "5"]);
        assert_eq!(config.advertised_endpoint(), ":5");
    }

    #[test]
    fn token_file_is_trimmed_and_must_not_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let arg = path.to_str().unwrap();
        let config = Config::parse_from(["x", "--enrollment-token-file", arg]);
        assert_eq!(config.enrollment_token().unwrap(), "s3cret");
        std::fs::write(&path, " \n").unwrap();
        assert!(config.enrollment_token().is_err());
        assert!(matches!(
            Config::parse_from(["x"]).enrollment_token(),
            Err(ConfigError::NoToken)
        ));
    }

    fn operator_file(dir: &std::path::Path) -> std::path::PathBuf {
        use coral_colony_config::*;
        let file = ColonyConfigFile {
            application: "shop".into(),
            environment: "prod".into(),
            colony_id: None,
            connect_port: 9100,
            storage: StorageConfig::Duckdb {
                data_dir: dir.join("data"),
            },
            mesh: MeshConfig {
                ipv4_cidr: "10.50.0.0/16".into(),
                ipv6_cidr: "fd42::/64".into(),
                listen_port: 41580,
                public_endpoint: Some("colony.example.com:41580".into()),
                private_key_file: dir.join("keys/wireguard.key"),
                enrollment_token_file: dir.join("keys/token"),
            },
            discovery_endpoint: Some("http://discovery:8080".into()),
            kubernetes_colony: Some("shop/shop-prod".into()),
            reef: None,
            dashboard: DashboardConfig {
                enabled: false,
                port: 3000,
            },
            retention: RetentionConfig {
                flow_days: 3,
                hourly_flow_days: 20,
                event_days: 14,
            },
        };
        let path = dir.join("colony.yaml");
        std::fs::write(&path, file.to_yaml()).unwrap();
        path
    }

    #[test]
    fn the_operator_file_fills_what_flags_leave_unset() {
        let dir = tempfile::tempdir().unwrap();
        let path = operator_file(dir.path());
        let config = Config::load_from(["x", "--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(config.colony_id(), "shop-prod");
        assert_eq!(config.connect_port, 9100);
        assert_eq!(config.data_dir().unwrap(), dir.path().join("data"));
        assert_eq!(config.mesh_ipv4_cidr, "10.50.0.0/16".parse().unwrap());
        assert_eq!(
            config.public_endpoint.as_deref(),
            Some("colony.example.com:41580")
        );
        assert_eq!(
            config.enrollment_token_file,
            Some(dir.path().join("keys/token"))
        );
        assert_eq!(
            config.discovery_endpoint.as_deref(),
            Some("http://discovery:8080")
        );
        let days = |n: u64| Duration::from_secs(n * 86_400);
        assert_eq!(
            config.retention(),
            Retention {
                minutes: days(3),
                hours: days(20),
                events: days(14),
            }
        );
        let colony = config.kubernetes_colony.clone().unwrap();
        assert_eq!(
            (colony.namespace.as_str(), colony.name.as_str()),
            ("shop", "shop-prod")
        );

        let overridden = Config::load_from([
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
        assert_eq!(overridden.enrollment_token_file, None);
        assert_eq!(overridden.enrollment_token().unwrap(), "t");
    }

    #[test]
    fn a_bad_file_names_itself_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = operator_file(dir.path());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("10.50.0.0/16", "10.50.0.0")).unwrap();
        let error = Config::load_from(["x", "--config", path.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("mesh.ipv4Cidr") && error.contains("colony.yaml"),
            "{error}"
        );
        let missing = dir.path().join("nope.yaml");
        let error = Config::load_from(["x", "--config", missing.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(error.contains("nope.yaml"), "{error}");
    }

    #[test]
    fn clickhouse_comes_from_flags_or_the_file() {
        let config = Config::parse_from(["x", "--storage", "clickhouse"]);
        assert!(matches!(
            config.storage(),
            Err(ConfigError::NoClickHouseUrl)
        ));
        let config = Config::parse_from([
            "x",
            "--storage",
            "clickhouse",
            "--clickhouse-url",
            "http://ch:8123",
        ]);
        assert_eq!(
            config.storage().unwrap(),
            StorageChoice::Clickhouse {
                url: "http://ch:8123".into(),
                database: "coral".into(),
                user: "default".into(),
                password: String::new(),
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
        let config = Config::load_from(["x", "--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(
            config.storage().unwrap(),
            StorageChoice::Clickhouse {
                url: "http://clickhouse:8123".into(),
                database: "shop".into(),
                user: "coral".into(),
                password: "pw".into(),
            }
        );
    }

    #[test]
    fn refuses_bad_values() {
        for args in [
            &["x", "--retention-days", "0"][..],
            &["x", "--mesh-ipv4-cidr", "10.42.0.0"],
            &[
                "x",
                "--enrollment-token",
                "a",
                "--enrollment-token-file",
                "f",
            ],
            &["x", "--log-level", "trace"],
        ] {
            assert!(Config::try_parse_from(args).is_err(), "{args:?}");
        }
        let Err(short_hours) = Config::load_from([
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
                .contains("--hourly-retention-days 7")
        );
    }
}
