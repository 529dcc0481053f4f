//! `coral colony start --daemon`: re-execute this binary detached (own
//! process group, stdin closed, output appended to `<id>.log`), then wait
//! until the colony answers as itself, or report why it did not start.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coral_telemetry::LogLevel;

use crate::args::StartArgs;
use crate::client::ColonyClient;
use crate::colony_file::ColonyFile;
use crate::error::CliError;
use crate::home::CoralHome;
use crate::local::process;

/// A cold DuckDB open on a busy machine can take a while.
const START_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Started {
    pub pid: u32,
    pub url: String,
}

pub async fn start(
    home: &CoralHome,
    file: &ColonyFile,
    args: &StartArgs,
) -> Result<Started, CliError> {
    let (connect_port, log_level) = (args.connect_port, args.log_level);
    let id = &file.colony_id;
    if let Some(pid) = process::running(home, id) {
        return Err(CliError::AlreadyRunning {
            id: id.clone(),
            pid,
        });
    }
    // Check the config before detaching, so errors show here.
    crate::local::start::colony_config(file, home, args)?;
    let log_path = home.log_file(id);
    let (log, err) = process::append_log(&log_path)?;
    let log_offset = log.metadata().map(|m| m.len()).unwrap_or(0);
    let exe = std::env::current_exe()
        .map_err(|e| CliError::Io(format!("cannot find the coral binary: {e}")))?;
    let mut command = Command::new(exe);
    command
        .args(["colony", "start", id, "--daemon-child"])
        .args(["--log-level", level_name(log_level)]);
    if let Some(port) = connect_port {
        command.args(["--connect-port", &port.to_string()]);
    }
    if args.no_mesh {
        command.arg("--no-mesh");
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| CliError::Io(format!("cannot start the colony daemon: {e}")))?;
    let pid = child.id();

    let port = connect_port.unwrap_or(file.services.connect_port);
    let mut probe = file.clone();
    probe.services.connect_port = port;
    let url = probe.local_url();
    let client = ColonyClient::direct(&url, id)?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(_status)) = child.try_wait() {
            return Err(CliError::StartFailed {
                id: id.clone(),
                message: last_error(&log_path, log_offset),
                log: log_path.display().to_string(),
            });
        }
        if let Ok(status) = client.get_status().await
            && status.colony_id == *id
        {
            return Ok(Started { pid, url });
        }
        if Instant::now() > deadline {
            // Leave nothing half-started behind.
            let _ = process::terminate(pid);
            return Err(CliError::StartFailed {
                id: id.clone(),
                message: format!(
                    "it did not answer on {url} within {}s",
                    START_TIMEOUT.as_secs()
                ),
                log: log_path.display().to_string(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// The daemon's error line from this run's part of the log.
fn last_error(log_path: &std::path::Path, offset: u64) -> String {
    let text = std::fs::read(log_path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text[(offset as usize).min(text.len())..]).into_owned();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    match lines.iter().rposition(|line| line.starts_with("Error: ")) {
        Some(at) => lines[at..]
            .join("\n")
            .trim_start_matches("Error: ")
            .to_owned(),
        None => lines
            .last()
            .map(|l| (*l).to_owned())
            .unwrap_or_else(|| "it exited at start".into()),
    }
}
