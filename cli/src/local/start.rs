//! `coral colony start` in the foreground (also what the `--daemon` child
//! runs): the colony in this process via `coral_colony::run`, with a
//! `Config` built from the colony file.

use std::time::Duration;

use coral_config::{ColonySettings, SecretString, StorageSettings};
use coral_telemetry::LogFormat;

use crate::args::StartArgs;
use crate::colony_file::ColonyFile;
use crate::error::CliError;
use crate::home::CoralHome;
use crate::local::process::PidFile;

/// The colony's settings for this colony file, built directly (the colony
/// file keeps the user-facing names of `coral init`). Only
/// `CORAL_PUBLIC_ENDPOINT` from the environment applies, where the file has
/// no endpoint.
pub fn colony_config(
    file: &ColonyFile,
    home: &CoralHome,
    start: &StartArgs,
) -> Result<ColonySettings, CliError> {
    let bad = |reason: String| CliError::BadConfig {
        path: home.colony_file(&file.colony_id),
        reason,
    };
    let mut settings = ColonySettings {
        application: file.application.clone(),
        environment: file.environment.clone(),
        colony_id: Some(file.colony_id.clone()),
        connect_port: start.connect_port.unwrap_or(file.services.connect_port),
        bind: file.services.bind.parse().map_err(|_| {
            bad(format!(
                "services.bind {:?} is not an IP address such as 127.0.0.1",
                file.services.bind
            ))
        })?,
        storage: StorageSettings::Duckdb {
            data_dir: Some(home.data_dir(&file.colony_id)),
        },
        discovery_endpoint: Some(file.discovery.endpoint.clone()).filter(|e| !e.is_empty()),
        ..ColonySettings::default()
    };
    let mesh = &mut settings.mesh;
    mesh.enabled = !start.no_mesh;
    mesh.ipv4_cidr = file
        .wireguard
        .mesh_network_ipv4
        .parse()
        .map_err(|e| bad(format!("wireguard.mesh_network_ipv4: {e}")))?;
    mesh.listen_port = file.wireguard.port;
    mesh.private_key_file = Some(key_file(home, &file.colony_id));
    mesh.enrollment_token = Some(SecretString::new(file.enrollment_token.clone()));
    mesh.public_endpoint = Some(
        std::env::var("CORAL_PUBLIC_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| file.wireguard.public_endpoint.clone())
            .unwrap_or_else(|| format!("127.0.0.1:{}", file.wireguard.port)),
    );
    if let Some(days) = file.retention_days {
        settings.retention.flow_days = days;
    }
    settings.validate().map_err(|e| bad(e.to_string()))?;
    Ok(settings)
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
    coral_telemetry::init(start.log_level, format);
    let shutdown = coral_telemetry::shutdown_signal()
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
