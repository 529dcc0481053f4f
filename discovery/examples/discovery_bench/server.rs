//! The `coral-discovery` process under test: started on a free loopback
//! port, killed on drop, its CPU time read from /proc.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};

/// The server process; killed on drop so nothing is left running.
pub struct ServerProcess {
    child: Child,
    pub addr: String,
}

impl ServerProcess {
    /// Starts the binary with `--connection-threads threads` (its own
    /// default when `None`) and waits for the address it logs.
    pub fn start(binary: &Path, threads: Option<u16>) -> Result<Self> {
        let mut command = Command::new(binary);
        if let Some(threads) = threads {
            command.args(["--connection-threads", &threads.to_string()]);
        }
        let mut child = command
            .args(["--port", "0", "--bind", "127.0.0.1", "--log-format", "json"])
            .args(["--log-level", "info", "--register-rate-limit", "0"])
            .args(["--ttl", "3600"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stderr = child.stderr.take().context("stderr is piped")?;
        // Owned before waiting, so an early return still kills the child.
        let mut server = ServerProcess {
            child,
            addr: String::new(),
        };
        let (tx, rx) = mpsc::channel();
        // Drains the log for the server's whole life (a full pipe would
        // block it); only the listening line is parsed.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !line.contains("Discovery service listening") {
                    continue;
                }
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(addr) = event["addr"].as_str()
                {
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        server.addr = rx
            .recv_timeout(Duration::from_secs(20))
            .context("the server did not log its listening address")?;
        Ok(server)
    }

    /// User + system CPU seconds the server has used so far.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(self.child.id())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU seconds process `pid` has used so far (Linux /proc).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at ")".
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((utime + stime) / 100.0)
}
