//! `coral proxy start|status|stop`: a local port forwarding to a colony over
//! its WireGuard mesh, for users who are not on the colony's machine. `start`
//! runs in the foreground and records itself in
//! `~/.coral/proxies/<colony-id>.proxy` (pid, listen address, target) so that
//! `status` and `stop` find it.

mod start;

use std::path::PathBuf;

pub use start::start;

use crate::error::CliError;
use crate::home::CoralHome;
use crate::local::process::{is_alive, terminate};
use crate::output::{OutputFormat, structured};

fn proxies_dir(home: &CoralHome) -> PathBuf {
    home.root().join("proxies")
}

fn record_path(home: &CoralHome, colony_id: &str) -> PathBuf {
    proxies_dir(home).join(format!("{colony_id}.proxy"))
}

/// One running proxy, as its record file says.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyRecord {
    pub colony_id: String,
    pub pid: u32,
    pub listen: String,
    pub target: String,
}

impl ProxyRecord {
    fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.pid, self.listen, self.target)
    }

    fn parse(colony_id: &str, text: &str) -> Option<ProxyRecord> {
        let mut lines = text.lines();
        Some(ProxyRecord {
            colony_id: colony_id.to_owned(),
            pid: lines.next()?.trim().parse().ok()?,
            listen: lines.next()?.to_owned(),
            target: lines.next()?.to_owned(),
        })
    }
}

/// The live proxies; records of dead ones are removed.
fn running(home: &CoralHome) -> Vec<ProxyRecord> {
    let Ok(entries) = std::fs::read_dir(proxies_dir(home)) else {
        return Vec::new();
    };
    let mut records = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".proxy"))
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        match ProxyRecord::parse(id, &text) {
            Some(record) if is_alive(record.pid) => records.push(record),
            _ => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    records.sort_by(|a, b| a.colony_id.cmp(&b.colony_id));
    records
}

/// `coral proxy status`.
pub fn status(home: &CoralHome, format: OutputFormat) -> Result<String, CliError> {
    let records = running(home);
    if let Some(text) = structured(format, &records)? {
        return Ok(text);
    }
    if records.is_empty() {
        return Ok("No proxy running. Start one: coral proxy start <colony-id>\n".into());
    }
    let mut out = format!(
        "{:<28} {:<22} {:<22} {}\n",
        "COLONY", "LISTEN", "FORWARDING TO", "PID"
    );
    for r in &records {
        out.push_str(&format!(
            "{:<28} {:<22} {:<22} {}\n",
            r.colony_id, r.listen, r.target, r.pid
        ));
    }
    Ok(out)
}

/// `coral proxy stop <colony-id>`: SIGTERM, then wait for it to go.
pub fn stop(home: &CoralHome, colony_id: &str) -> Result<String, CliError> {
    let Some(record) = running(home).into_iter().find(|r| r.colony_id == colony_id) else {
        return Err(CliError::Invalid(format!(
            "no proxy is running for colony {colony_id}; `coral proxy status` lists the running ones"
        )));
    };
    terminate(record.pid)?;
    for _ in 0..100 {
        if !is_alive(record.pid) {
            let _ = std::fs::remove_file(record_path(home, colony_id));
            return Ok(format!(
                "✓ Proxy stopped: {colony_id} (pid {})\n",
                record.pid
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(CliError::Io(format!(
        "proxy pid {} did not stop within 10s",
        record.pid
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip() {
        let record = ProxyRecord {
            colony_id: "shop-dev".into(),
            pid: 42,
            listen: "127.0.0.1:8000".into(),
            target: "10.42.0.1:9000".into(),
        };
        let parsed = ProxyRecord::parse("shop-dev", &record.text()).unwrap();
        assert_eq!(parsed.pid, 42);
        assert_eq!(parsed.target, "10.42.0.1:9000");
        assert!(ProxyRecord::parse("x", "not a pid\n").is_none());
    }
}
