//! `coral-node-agent`: see the crate docs and README.

use std::process::ExitCode;

use clap::Parser;
use coral_node_agent::app;
use coral_node_agent::config::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    coral_telemetry::init(config.log_level, config.log_format);
    let shutdown = match coral_telemetry::shutdown_signal() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            tracing::error!(%error, "cannot install signal handlers");
            return ExitCode::FAILURE;
        }
    };
    match app::run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the node-agent cannot start");
            ExitCode::FAILURE
        }
    }
}
