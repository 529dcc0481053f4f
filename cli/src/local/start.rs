//! `coral colony start` in the foreground (also what the `--daemon` child
//! runs): the colony in this process via `coral_colony::run`, with a
//! `Config` built from the colony file.

use std::time::Duration;

use clap::Parser;
use coral_logging::{LogFormat, LogLevel};

use crate::args::StartArgs;
use crate::colony_file::ColonyFile;
use crate::error::CliError;
use crate::home::CoralHome;
use crate::local::process::PidFile;

/// The colony's flags for this colony file (environment variables such as
/// `CORAL_PUBLIC_ENDPOINT` still apply where the file has no value).
pub fn colony_config(
    file: &ColonyFile,
    home: &CoralHome,
    start: &StartArgs,
) -> Result<coral_colony::Config, CliError> {
    let data_dir = home.data_dir(&file.colony_id);
    let port = start
        .connect_port
        .unwrap_or(file.services.connect_port)
        .to_string();
    let level = match start.log_level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    let mut args: Vec<String> = vec![
        "coral-colony".into(),
        "--colony-id".into(),
        file.colony_id.clone(),
        "--application".into(),
        file.application.clone(),
        "--environment".into(),
        file.environment.clone(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--connect-port".into(),
        port,
        "--bind".into(),
        file.services.bind.clone(),
        // One argument: a URL-safe token may start with '-'.
        format!("--enrollment-token={}", file.enrollment_token),
        "--mesh-ipv4-cidr".into(),
        file.wireguard.mesh_network_ipv4.clone(),
        "--wireguard-key-file".into(),
        key_file(home, &file.colony_id).display().to_string(),
        "--wireguard-port".into(),
        file.wireguard.port.to_string(),
        "--log-level".into(),
        level.into(),
    ];
    if start.no_mesh {
        args.push("--no-mesh".into());
    }
    if !file.discovery.endpoint.is_empty() {
        args.extend([
            "--discovery-endpoint".into(),
            file.discovery.endpoint.clone(),
        ]);
    }
    let public_endpoint = std::env::var("CORAL_PUBLIC_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| file.wireguard.public_endpoint.clone())
        .unwrap_or_else(|| format!("127.0.0.1:{}", file.wireguard.port));
    args.extend(["--public-endpoint".into(), public_endpoint]);
    if let Some(days) = file.retention_days {
        args.extend(["--retention-days".into(), days.to_string()]);
    }
    coral_colony::Config::try_parse_from(&args).map_err(|error| CliError::BadConfig {
        path: home.colony_file(&file.colony_id),
        reason: error.to_string().trim().to_owned(),
    })
}

/// The colony reads its WireGuard key from a file; the colony file's key is
/// the one `coral init` printed and discovery must announce.
fn key_file(home: &CoralHome, id: &str) -> std::path::PathBuf {
    home.data_dir(id).join("wireguard.key")
}

fn write_key_file(home: &CoralHome, file: &ColonyFile) -> Result<(), CliError> {
    let dir = home.data_dir(&file.colony_id);
    std::fs::create_dir_all(&dir).map_err(|source| CliError::Write {
        path: dir.clone(),
        source,
    })?;
    crate::colony_file::write_private(
        &key_file(home, &file.colony_id),
        &format!("{}\n", file.wireguard.private_key),
    )
}

fn serve_error(error: coral_colony::ServeError) -> CliError {
    match error {
        coral_colony::ServeError::Bind { addr, source }
            if source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            CliError::PortInUse {
                addr: addr.to_string(),
                port: addr.port(),
            }
        }
        other => CliError::Colony(other.to_string()),
    }
}

/// Run the colony until SIGINT/SIGTERM.
pub async fn run(home: &CoralHome, file: &ColonyFile, start: &StartArgs) -> Result<(), CliError> {
    let daemon_child = start.daemon_child;
    let config = colony_config(file, home, start)?;
    let _pid = PidFile::create(home, &file.colony_id)?;
    write_key_file(home, file)?;
    // Daemon logs go to a file: human lines without colours.
    let format = if daemon_child {
        LogFormat::Human
    } else {
        LogFormat::Auto
    };
    coral_logging::init(start.log_level, format);
    let shutdown = coral_connect::shutdown_signal()
        .map_err(|e| CliError::Io(format!("cannot handle SIGINT/SIGTERM: {e}")))?;
    let announce = (!daemon_child).then(|| {
        let port = config.connect_port;
        tokio::spawn(async move {
            // Once the port answers, tell the user how to stop.
            for _ in 0..600 {
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    eprintln!("\nPress Ctrl+C to stop");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    });
    let result = coral_colony::run(config, shutdown).await;
    if let Some(task) = announce {
        task.abort();
    }
    result.map_err(serve_error)
}
