//! Entry points of both binaries: parse, dispatch, print, and turn errors
//! into one `Error: …` message and exit code 1 (clap's usage errors exit 2).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{
    ColonyCommand, CoralArgs, CoralCommand, KubectlArgs, KubectlCommand, ProxyCommand,
};
use crate::client::ColonyClient;
use crate::colony_file;
use crate::error::CliError;
use crate::home::CoralHome;
use crate::local;
use crate::output::{self, OutputFormat, Style};
use crate::{kubectl, proxy, show};

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Io(format!("cannot start the async runtime: {e}")))
}

fn finish(result: Result<String, CliError>) -> ExitCode {
    match result {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`coral status | head`) is not an error.
            let _ = stdout.write_all(text.as_bytes());
            let _ = stdout.flush();
            ExitCode::SUCCESS
        }
        Err(error) => {
            let style = Style {
                color: Style::detect().color
                    && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            eprintln!("{} {error}", style.red("Error:"));
            ExitCode::FAILURE
        }
    }
}

pub fn coral_main() -> ExitCode {
    let args = CoralArgs::parse();
    finish(coral(args))
}

fn version(format: OutputFormat, name: &str) -> Result<String, CliError> {
    #[derive(serde::Serialize)]
    struct Version<'a> {
        name: &'a str,
        version: &'a str,
        colony: &'a str,
    }
    let version = Version {
        name,
        version: crate::VERSION,
        colony: coral_colony::VERSION,
    };
    if let Some(text) = output::structured(format, &version)? {
        return Ok(text);
    }
    Ok(format!("{name} {}\n", crate::VERSION))
}

fn coral(args: CoralArgs) -> Result<String, CliError> {
    let format = args.output;
    match args.command {
        CoralCommand::Version => version(format, "coral"),
        CoralCommand::Init(init) => local::init::run(init, &CoralHome::from_env()?, format),
        CoralCommand::Colony(command) => colony(command, format),
        CoralCommand::Status(status) => {
            let home = CoralHome::from_env()?;
            let (client, location) =
                local_client(&home, status.colony.as_deref(), status.endpoint)?;
            runtime()?.block_on(show::status(&client, &location, format))
        }
        CoralCommand::Topology(topology) => {
            let home = CoralHome::from_env()?;
            let (client, _) = local_client(&home, topology.colony.as_deref(), topology.endpoint)?;
            runtime()?.block_on(show::topology(&client, &topology.view, format))
        }
        CoralCommand::Connect(connect) => {
            let home = CoralHome::from_env()?;
            runtime()?.block_on(local::connect::run(&home, &connect))?;
            Ok(String::new())
        }
        CoralCommand::Proxy(command) => {
            let home = CoralHome::from_env()?;
            match command {
                ProxyCommand::Start(start) => {
                    runtime()?.block_on(proxy::start(&home, &start))?;
                    Ok(String::new())
                }
                ProxyCommand::Status => proxy::status(&home, format),
                ProxyCommand::Stop { colony_id } => proxy::stop(&home, &colony_id),
            }
        }
    }
}

fn local_client(
    home: &CoralHome,
    colony: Option<&str>,
    endpoint: Option<String>,
) -> Result<(ColonyClient, String), CliError> {
    let file = colony_file::resolve(home, colony)?;
    let (url, location) = match endpoint {
        Some(url) => (url.clone(), format!("via {url}")),
        None => (file.local_url(), "running locally".to_owned()),
    };
    Ok((ColonyClient::direct(&url, &file.colony_id)?, location))
}

fn colony(command: ColonyCommand, format: OutputFormat) -> Result<String, CliError> {
    let home = CoralHome::from_env()?;
    match command {
        ColonyCommand::Start(start) => {
            let file = colony_file::resolve(&home, start.colony_id.as_deref())?;
            if start.daemon {
                let started = runtime()?.block_on(local::daemon::start(&home, &file, &start))?;
                let style = Style::detect();
                Ok(format!(
                    "{} Colony started: {} (pid {})\n  API: {}\n  Logs: {}\n\nStop it: coral colony stop\n",
                    style.green("✓"),
                    file.colony_id,
                    started.pid,
                    started.url,
                    home.log_file(&file.colony_id).display()
                ))
            } else {
                runtime()?.block_on(local::start::run(&home, &file, &start))?;
                Ok(String::new())
            }
        }
        ColonyCommand::Stop(stop) => local::colony::stop(&home, stop.colony_id.as_deref()),
        ColonyCommand::List => local::colony::list(&home, format),
        ColonyCommand::Current => local::colony::current(&home, format),
        ColonyCommand::Use(id) => local::colony::use_colony(&home, &id.colony_id),
        ColonyCommand::Status(id) => runtime()?.block_on(local::colony::status(
            &home,
            id.colony_id.as_deref(),
            format,
        )),
    }
}

pub fn kubectl_coral_main() -> ExitCode {
    let args = KubectlArgs::parse();
    finish(kubectl_coral(args))
}

fn kubectl_coral(args: KubectlArgs) -> Result<String, CliError> {
    let format = args.output;
    let command = match args.command {
        KubectlCommand::Version => return version(format, "kubectl-coral"),
        other => other,
    };
    runtime()?.block_on(async move {
        let cluster = kubectl::Cluster::connect(args.context.as_deref(), args.namespace).await?;
        match command {
            KubectlCommand::Version => version(format, "kubectl-coral"),
            KubectlCommand::Colony(command) => {
                kubectl::colony::run(&cluster, command, format).await
            }
            KubectlCommand::Connect(connect) => {
                kubectl::connect::run(&cluster, connect, format).await
            }
            KubectlCommand::Status(arg) => {
                let (client, location) = cluster.colony_client(arg.colony.as_deref()).await?;
                show::status(&client, &location, format).await
            }
            KubectlCommand::Topology(topology) => {
                let (client, _) = cluster.colony_client(topology.colony.as_deref()).await?;
                show::topology(&client, &topology.view, format).await
            }
        }
    })
}
