//! The server's own lookup counters, read from `/metrics`. h2load sees only
//! HTTP statuses, and a gRPC error is still HTTP 200 (the status is in the
//! trailers), so the benchmark checks with the server that every measured
//! lookup found its colony.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result, bail};

#[derive(Debug, Clone, Copy, Default)]
pub struct LookupCounts {
    pub found: u64,
    pub not_found: u64,
    pub rejected: u64,
}

impl LookupCounts {
    /// Reads the counters over a plain HTTP/1.1 request.
    pub fn read(addr: &str) -> Result<Self> {
        let mut stream =
            TcpStream::connect(addr).with_context(|| format!("cannot reach {addr}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        if !text.starts_with("HTTP/1.1 200") {
            bail!("GET /metrics failed: {}", text.lines().next().unwrap_or(""));
        }
        let mut counts = LookupCounts::default();
        for line in text.lines() {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<u64>() else {
                continue;
            };
            if name == "coral_discovery_lookups_total{kind=\"colony\",outcome=\"found\"}" {
                counts.found = value;
            } else if name == "coral_discovery_lookups_total{kind=\"colony\",outcome=\"not_found\"}"
            {
                counts.not_found = value;
            } else if name.starts_with("coral_discovery_rejected_requests_total") {
                counts.rejected += value;
            }
        }
        Ok(counts)
    }

    /// Fails unless, since `before`, the server found at least `measured`
    /// colonies and refused nothing.
    pub fn check_since(&self, before: &LookupCounts, measured: usize) -> Result<()> {
        let found = self.found - before.found.min(self.found);
        let missed = self.not_found - before.not_found.min(self.not_found);
        let rejected = self.rejected - before.rejected.min(self.rejected);
        if missed > 0 || rejected > 0 || found < measured as u64 {
            bail!(
                "the server counted {found} found, {missed} not found and {rejected} refused lookups for {measured} measured ones"
            );
        }
        Ok(())
    }
}
