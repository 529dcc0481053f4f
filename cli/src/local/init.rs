//! `coral init`: a colony id, a WireGuard keypair, an enrollment token and
//! `~/.coral/colonies/<id>.yaml` (0600); the new colony becomes current.

use std::io::{BufRead, IsTerminal, Write};

use serde::Serialize;

use crate::args::InitArgs;
use crate::colony_file::{
    CliConfig, ColonyFile, DiscoverySection, ServicesSection, WireguardSection,
};
use crate::error::CliError;
use crate::home::CoralHome;
use crate::keys;
use crate::output::{self, OutputFormat, Style};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Initialized {
    colony_id: String,
    application: String,
    environment: String,
    config: String,
    wireguard_public_key: String,
    connect_port: u16,
}

/// Lowercase letters, digits and '-', starting and ending alphanumeric.
pub fn validate_name(what: &str, value: &str, max: usize) -> Result<(), CliError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(CliError::Invalid(format!(
            "{what} {value:?} is not valid: use 1-{max} lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. my-app)"
        )))
    }
}

fn prompt(question: &str, default: &str) -> Result<String, CliError> {
    let stdin = std::io::stdin();
    loop {
        eprint!("? {question} [{default}]: ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        let read = stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Io(format!("cannot read the answer: {e}")))?;
        if read == 0 {
            return Err(CliError::Invalid(
                "no answer (end of input); pass --app and --env instead".into(),
            ));
        }
        let answer = line.trim();
        let answer = if answer.is_empty() { default } else { answer };
        match validate_name(question, answer, 30) {
            Ok(()) => return Ok(answer.to_owned()),
            Err(error) => eprintln!("{error}"),
        }
    }
}

fn ask_or(
    value: Option<String>,
    question: &str,
    default: &str,
    flag: &str,
) -> Result<String, CliError> {
    match value {
        Some(value) => Ok(value),
        None if std::io::stdin().is_terminal() => prompt(question, default),
        None => Err(CliError::Invalid(format!(
            "{flag} is required when not run interactively (e.g. coral init --app my-app --env dev)"
        ))),
    }
}

pub fn run(args: InitArgs, home: &CoralHome, format: OutputFormat) -> Result<String, CliError> {
    let application = ask_or(args.app, "Application name", "my-app", "--app")?;
    validate_name("application", &application, 30)?;
    let environment = ask_or(args.env, "Environment", "dev", "--env")?;
    validate_name("environment", &environment, 20)?;
    let colony_id = match args.colony_id {
        Some(id) => id,
        None => format!("{application}-{environment}-{}", keys::id_suffix()),
    };
    validate_name("colony id", &colony_id, 63)?;
    let path = home.colony_file(&colony_id);
    if path.exists() {
        return Err(CliError::ColonyExists {
            id: colony_id,
            path,
        });
    }
    let pair = keys::generate_wireguard();
    let file = ColonyFile {
        colony_id: colony_id.clone(),
        application: application.clone(),
        environment: environment.clone(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        wireguard: WireguardSection {
            private_key: pair.private_key,
            public_key: pair.public_key.clone(),
            port: crate::colony_file::DEFAULT_WIREGUARD_PORT,
            mesh_ipv4: "10.42.0.1".into(),
            mesh_ipv6: "fd42::1".into(),
            mesh_network_ipv4: "10.42.0.0/16".into(),
            public_endpoint: None,
        },
        services: ServicesSection {
            connect_port: args.connect_port,
            bind: "0.0.0.0".into(),
        },
        discovery: DiscoverySection {
            endpoint: args.discovery,
        },
        enrollment_token: keys::enrollment_token(),
        retention_days: None,
    };
    file.save(home)?;
    CliConfig {
        current_colony: Some(colony_id.clone()),
    }
    .save(home)?;

    let done = Initialized {
        colony_id: colony_id.clone(),
        application,
        environment,
        config: path.display().to_string(),
        wireguard_public_key: pair.public_key,
        connect_port: args.connect_port,
    };
    if let Some(text) = output::structured(format, &done)? {
        return Ok(text);
    }
    let style = Style::detect();
    Ok(format!(
        "{} Colony initialized: {}\n  Config: {}\n  WireGuard public key: {}\n\nStart the colony:\n  coral colony start\n",
        style.green("✓"),
        style.bold(&colony_id),
        done.config,
        done.wireguard_public_key,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("a", "my-app", 30).is_ok());
        assert!(validate_name("a", "prod2", 30).is_ok());
        for bad in ["", "My-App", "-x", "x-", "a_b", "a b", &"x".repeat(31)] {
            assert!(validate_name("a", bad, 30).is_err(), "{bad:?}");
        }
    }
}
