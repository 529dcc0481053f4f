//! The demo app's tiers (what `examples/demo` deploys) and their processes:
//! one `coral-demo-app` per pod, in the pod's network namespace.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::pod_network::{PodNetns, PodNetwork};

/// One tier: its `app` label, the port it serves, the Service in front of
/// it, and whom it calls.
pub struct Tier {
    pub app: &'static str,
    pub port: u16,
    /// For each request served, one connection to this tier's Service.
    pub upstream: Option<&'static str>,
    /// A client of its own, calling this tier's Service on a timer.
    pub calls: Option<&'static str>,
}

/// frontend → api → database, started from the back.
pub const TIERS: [Tier; 3] = [
    Tier {
        app: "database",
        port: 5432,
        upstream: None,
        calls: None,
    },
    Tier {
        app: "api",
        port: 8080,
        upstream: Some("database"),
        calls: None,
    },
    Tier {
        app: "frontend",
        port: 3000,
        upstream: None,
        calls: Some("api"),
    },
];

pub fn tier(app: &str) -> Option<&'static Tier> {
    TIERS.iter().find(|tier| tier.app == app)
}

/// How the frontend clients call.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub interval: Duration,
    /// Successful calls per frontend pod before it stops calling (0: never).
    pub calls_per_client: u64,
}

/// A running tier process.
pub struct AppProcess {
    pub pod: String,
    child: Child,
}

/// What a tier process did, from its summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppSummary {
    pub served: u64,
    pub upstream_ok: u64,
    pub calls_ok: u64,
}

impl AppProcess {
    /// `tier` in `pod`'s namespace; `service_ip` finds a tier's ClusterIP.
    pub fn start(
        network: &PodNetwork,
        pod: &PodNetns,
        tier: &Tier,
        binary: &Path,
        service_ip: impl Fn(&str) -> Option<Ipv4Addr>,
        load: Load,
    ) -> Result<AppProcess> {
        let address = |app: &str| -> Result<String> {
            let target = tier_of(app)?;
            let ip = service_ip(app)
                .with_context(|| format!("the demo app has no Service `{app}` with a ClusterIP"))?;
            Ok(SocketAddr::from((ip, target.port)).to_string())
        };
        let mut command = network.command(pod, binary);
        command
            .args(["--name", tier.app])
            .args(["--listen", &format!("0.0.0.0:{}", tier.port)]);
        if let Some(upstream) = tier.upstream {
            command.args(["--upstream", &address(upstream)?]);
        }
        if let Some(calls) = tier.calls {
            command
                .args(["--call", &address(calls)?])
                .args(["--interval-ms", &load.interval.as_millis().to_string()])
                .args(["--count", &load.calls_per_client.to_string()]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {} in pod {}", binary.display(), pod.pod))?;
        Ok(AppProcess {
            pod: pod.pod.clone(),
            child,
        })
    }

    /// SIGTERM, and the summary the process prints on its way out (the last
    /// line: a client that reached `--count` printed one before).
    pub fn stop(mut self) -> Result<AppSummary> {
        // SAFETY: a plain signal to our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                anyhow::bail!("the app in pod {} did not stop on SIGTERM", self.pod);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let stdout = self.child.stdout.take().context("stdout piped")?;
        let last = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .last()
            .with_context(|| format!("the app in pod {} printed no summary", self.pod))?;
        parse_summary(&last)
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tier_of(app: &str) -> Result<&'static Tier> {
    tier(app).with_context(|| format!("no demo tier `{app}`"))
}

fn parse_summary(line: &str) -> Result<AppSummary> {
    let value: Value =
        serde_json::from_str(line).with_context(|| format!("summary line {line:?}"))?;
    let number = |key: &str| value[key].as_u64().unwrap_or(0);
    Ok(AppSummary {
        served: number("served"),
        upstream_ok: number("upstreamOk"),
        calls_ok: number("callsOk"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_parse() {
        let line = r#"{"name":"api","served":7,"upstreamOk":6,"upstreamFailed":1,"callsOk":0,"callsFailed":0}"#;
        assert_eq!(
            parse_summary(line).unwrap(),
            AppSummary {
                served: 7,
                upstream_ok: 6,
                calls_ok: 0
            }
        );
        assert!(parse_summary("not json").is_err());
    }

    #[test]
    fn tiers_call_tiers_that_exist() {
        for tier in &TIERS {
            for next in tier.upstream.iter().chain(tier.calls.iter()) {
                assert!(super::tier(next).is_some(), "{} calls {next}", tier.app);
            }
        }
    }
}
