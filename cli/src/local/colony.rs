//! `coral colony stop|list|current|use|status`.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::ColonyClient;
use crate::colony_file::{self, CliConfig, ColonyFile};
use crate::error::CliError;
use crate::home::CoralHome;
use crate::local::process;
use crate::output::{self, OutputFormat, Style, table};
use crate::render::units::duration;

const STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub fn stop(home: &CoralHome, id: Option<&str>) -> Result<String, CliError> {
    let file = colony_file::resolve(home, id)?;
    let id = &file.colony_id;
    let Some(pid) = process::running(home, id) else {
        return Err(CliError::Invalid(format!(
            "colony {id} is not running (nothing to stop); start it with `coral colony start {id}`"
        )));
    };
    process::terminate(pid)?;
    let deadline = Instant::now() + STOP_TIMEOUT;
    while process::is_alive(pid) {
        if Instant::now() > deadline {
            return Err(CliError::StopTimeout {
                id: id.clone(),
                pid,
                seconds: STOP_TIMEOUT.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_file(home.pid_file(id));
    Ok(format!(
        "{} Colony stopped: {id} (pid {pid})\n",
        Style::detect().green("✓")
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedColony {
    colony_id: String,
    application: String,
    environment: String,
    running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    connect_port: u16,
    current: bool,
    config: String,
}

fn current_id(home: &CoralHome) -> Result<Option<String>, CliError> {
    Ok(CliConfig::load(home)?.current_colony)
}

pub fn list(home: &CoralHome, format: OutputFormat) -> Result<String, CliError> {
    let current = current_id(home)?;
    let mut colonies = Vec::new();
    for id in colony_file::list_ids(home)? {
        let file = ColonyFile::load(home, &id)?;
        let pid = process::running(home, &id);
        colonies.push(ListedColony {
            current: current.as_deref() == Some(id.as_str()),
            config: home.colony_file(&id).display().to_string(),
            colony_id: id,
            application: file.application,
            environment: file.environment,
            running: pid.is_some(),
            pid,
            connect_port: file.services.connect_port,
        });
    }
    if let Some(text) = output::structured(format, &colonies)? {
        return Ok(text);
    }
    if colonies.is_empty() {
        return Ok("No colonies yet. Create one with `coral init`.\n".into());
    }
    let style = Style::detect();
    let rows: Vec<Vec<String>> = colonies
        .iter()
        .map(|c| {
            let state = if c.running { "running" } else { "stopped" };
            vec![
                if c.current { "*".into() } else { String::new() },
                c.colony_id.clone(),
                c.application.clone(),
                c.environment.clone(),
                style.status(state, state),
                c.connect_port.to_string(),
                c.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    Ok(table(
        &[
            "CURRENT",
            "COLONY ID",
            "APPLICATION",
            "ENVIRONMENT",
            "STATUS",
            "PORT",
            "PID",
        ],
        &rows,
    ))
}

pub fn current(home: &CoralHome, format: OutputFormat) -> Result<String, CliError> {
    let file = colony_file::resolve(home, None)?;
    let pid = process::running(home, &file.colony_id);
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Current<'a> {
        colony_id: &'a str,
        application: &'a str,
        environment: &'a str,
        running: bool,
        config: String,
    }
    let view = Current {
        colony_id: &file.colony_id,
        application: &file.application,
        environment: &file.environment,
        running: pid.is_some(),
        config: home.colony_file(&file.colony_id).display().to_string(),
    };
    if let Some(text) = output::structured(format, &view)? {
        return Ok(text);
    }
    Ok(format!("{}\n", file.colony_id))
}

pub fn use_colony(home: &CoralHome, id: &str) -> Result<String, CliError> {
    let file = ColonyFile::load(home, id)?;
    let mut config = CliConfig::load(home)?;
    config.current_colony = Some(file.colony_id.clone());
    config.save(home)?;
    Ok(format!(
        "{} Current colony: {}\n",
        Style::detect().green("✓"),
        file.colony_id
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ColonyStatusView {
    colony_id: String,
    application: String,
    environment: String,
    running: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    url: String,
    config: String,
    data_dir: String,
    log: Option<String>,
    wireguard_public_key: String,
    mesh_ipv4: String,
    mesh_ipv6: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    api: Option<coral_proto::colony::v1::GetStatusResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_error: Option<String>,
}

pub async fn status(
    home: &CoralHome,
    id: Option<&str>,
    format: OutputFormat,
) -> Result<String, CliError> {
    let file = colony_file::resolve(home, id)?;
    let id = file.colony_id.clone();
    let pid = process::running(home, &id);
    let url = file.local_url();
    let (api, api_error) = if pid.is_some() {
        match ColonyClient::direct(&url, &id)?.get_status().await {
            Ok(status) => (Some(status), None),
            Err(error) => (None, Some(error.to_string())),
        }
    } else {
        (None, None)
    };
    let log = home.log_file(&id);
    let view = ColonyStatusView {
        colony_id: id.clone(),
        application: file.application.clone(),
        environment: file.environment.clone(),
        running: pid.is_some(),
        pid,
        url,
        config: home.colony_file(&id).display().to_string(),
        data_dir: home.data_dir(&id).display().to_string(),
        log: log.exists().then(|| log.display().to_string()),
        wireguard_public_key: file.wireguard.public_key.clone(),
        mesh_ipv4: file.wireguard.mesh_ipv4.clone(),
        mesh_ipv6: file.wireguard.mesh_ipv6.clone(),
        api,
        api_error,
    };
    if let Some(text) = output::structured(format, &view)? {
        return Ok(text);
    }
    let style = Style::detect();
    let mut out = format!(
        "{}\n  Application: {} ({})\n",
        style.bold(&format!("Colony: {id}")),
        view.application,
        view.environment
    );
    match view.pid {
        Some(pid) => out.push_str(&format!(
            "  Status:      {} (pid {pid})\n",
            style.green("running")
        )),
        None => out.push_str(&format!("  Status:      {}\n", style.red("stopped"))),
    }
    out.push_str(&format!("  API:         {}\n", view.url));
    if let Some(api) = &view.api {
        out.push_str(&format!(
            "  Health:      {} · v{} · up {} · {} agents · {} components · {}\n",
            style.status(&api.status, &api.status),
            api.version,
            duration(api.uptime_seconds),
            api.agents,
            api.components,
            api.storage,
        ));
    }
    if let Some(error) = &view.api_error {
        out.push_str(&format!(
            "  Health:      {} ({})\n",
            style.yellow("not answering"),
            error.lines().next().unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "  WireGuard:   {} (mesh {} / {})\n",
        view.wireguard_public_key, view.mesh_ipv4, view.mesh_ipv6
    ));
    out.push_str(&format!("  Config:      {}\n", view.config));
    out.push_str(&format!("  Data:        {}\n", view.data_dir));
    if let Some(log) = &view.log {
        out.push_str(&format!("  Logs:        {log}\n"));
    }
    if view.pid.is_none() {
        out.push_str(&format!(
            "\nStart it: coral colony start {id}   (or --daemon for the background)\n"
        ));
    }
    Ok(out)
}
