//! Command-line flags and their environment variables.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use coral_logging::{LogFormat, LogLevel};

use crate::mesh_network::MeshNetwork;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "coral-colony",
    version,
    about = "Colony: agents report flows to it; users and tools ask it about the application"
)]
pub struct Config {
    /// Colony id (default: <application>-<environment>).
    #[arg(long, env = "CORAL_COLONY_ID")]
    pub colony_id: Option<String>,

    #[arg(long, default_value = "my-app", env = "CORAL_APPLICATION")]
    pub application: String,

    #[arg(long, default_value = "dev", env = "CORAL_ENVIRONMENT")]
    pub environment: String,

    /// Where the DuckDB file lives (default: ~/.coral/colonies/<colony-id>).
    #[arg(long, env = "CORAL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

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

    /// WireGuard endpoint advertised to agents (host:port).
    #[arg(long, default_value = "127.0.0.1:41580", env = "CORAL_PUBLIC_ENDPOINT")]
    pub public_endpoint: String,

    /// Days minute rollups (and events) are kept.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=365))]
    pub retention_days: u32,

    /// Seconds between retention purges.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub purge_interval: u32,

    #[arg(long, value_enum, default_value_t = LogLevel::Info, env = "CORAL_LOG_LEVEL")]
    pub log_level: LogLevel,

    /// Log format: human on a terminal and JSON otherwise, unless chosen.
    #[arg(long, value_enum, default_value_t = LogFormat::Auto, env = "CORAL_LOG_FORMAT")]
    pub log_format: LogFormat,
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
}

impl Config {
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

    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.retention_days) * 86_400)
    }

    pub fn purge_interval(&self) -> Duration {
        Duration::from_secs(self.purge_interval.into())
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
        assert_eq!(config.retention(), Duration::from_secs(7 * 86_400));
        assert_eq!(config.enrollment_token().unwrap(), "t");
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
    }
}
