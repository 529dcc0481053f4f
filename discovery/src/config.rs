//! Command-line flags (the documented contract users script against:
//! `--port`, `--ttl`, `--cleanup-interval`, `--log-level`) plus hardening
//! knobs.

use std::net::IpAddr;
use std::time::Duration;

use clap::Parser;
use coral_telemetry::{LogFormat, LogLevel};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "coral-discovery",
    version,
    about = "Rendezvous registry: colonies and agents announce themselves with a TTL lease"
)]
pub struct Config {
    /// Port serving gRPC and Connect-JSON (0 picks a free port and logs it).
    #[arg(long, default_value_t = 8080, env = "CORAL_DISCOVERY_PORT")]
    pub port: u16,

    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0", env = "CORAL_DISCOVERY_BIND")]
    pub bind: IpAddr,

    /// Lease length of a registration, in seconds.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub ttl: u32,

    /// How often expired entries are purged, in seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3_600))]
    pub cleanup_interval: u32,

    /// Log verbosity.
    #[arg(long, value_enum, default_value_t = LogLevel::Info, env = "CORAL_LOG_LEVEL")]
    pub log_level: LogLevel,

    /// Log format: human on a terminal and JSON otherwise, unless chosen.
    #[arg(long, value_enum, default_value_t = LogFormat::Auto, env = "CORAL_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Registrations (and deregistrations) per second allowed from one
    /// source IP, refilled continuously; 0 disables the limit.
    #[arg(long, default_value_t = 20.0, value_parser = parse_rate)]
    pub register_rate_limit: f64,

    /// Registrations one source IP may send in a burst.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub register_burst: u32,

    /// Most live colonies (and, separately, agents) held at once.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_entries: u32,

    /// Threads serving connections, each on its own single-threaded runtime
    /// (0: one shared multi-threaded runtime). Default: one per core.
    #[arg(long, value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub connection_threads: Option<u16>,
}

/// A finite, non-negative rate (a negative or NaN rate must not silently
/// turn the limiter off).
fn parse_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        _ => Err(format!(
            "{text:?} is not a rate; give registrations per second, e.g. 20 (0 disables the limit)"
        )),
    }
}

impl Config {
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl.into())
    }

    /// `--connection-threads`, defaulting to the number of cores.
    pub fn connection_threads(&self) -> usize {
        self.connection_threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            usize::from,
        )
    }

    pub fn cleanup_interval(&self) -> Duration {
        Duration::from_secs(self.cleanup_interval.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_defaults() {
        let config = Config::parse_from(["coral-discovery"]);
        assert_eq!(config.port, 8080);
        assert_eq!(config.ttl, 300);
        assert_eq!(config.cleanup_interval, 60);
        assert_eq!(config.log_level, LogLevel::Info);
    }

    #[test]
    fn refuses_bad_rates_and_ttls() {
        for args in [
            &["x", "--register-rate-limit", "-1"][..],
            &["x", "--register-rate-limit", "NaN"],
            &["x", "--ttl", "0"],
            &["x", "--cleanup-interval", "0"],
            &["x", "--log-level", "trace"],
        ] {
            assert!(Config::try_parse_from(args).is_err(), "{args:?}");
        }
    }
}
