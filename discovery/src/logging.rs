//! Log setup: human lines on a terminal, JSON lines otherwise (in cluster).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogLevel};

/// Install the global subscriber. Library noise (h2, hyper, tower) stays at
/// warn unless debug logging is asked for.
pub fn init(level: LogLevel, format: LogFormat) {
    let directives = match level {
        LogLevel::Debug => "debug,h2=info,hyper=info,hyper_util=info,tower=info",
        LogLevel::Info => "info,h2=warn,hyper=warn,hyper_util=warn,tower=warn",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    let human = match format {
        LogFormat::Human => true,
        LogFormat::Json => false,
        LogFormat::Auto => std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(directives))
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    if human {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
}
