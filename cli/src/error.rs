//! Every error a user can see, each saying what to do next.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("no home directory: set CORAL_HOME (or HOME) to the directory that should hold .coral")]
    NoHome,

    #[error("no colony configured yet: run `coral init` to create one")]
    NoColonies,

    #[error(
        "no current colony: pick one with `coral colony use <colony-id>` (see `coral colony list`) or pass --colony"
    )]
    NoCurrentColony,

    #[error(
        "colony not found: {id}\n  Known colonies: {known}\n  Create one with `coral init`, or list them with `coral colony list`"
    )]
    ColonyNotFound { id: String, known: String },

    #[error("colony {id} already exists ({path}); pick another --colony-id or remove the file")]
    ColonyExists { id: String, path: PathBuf },

    #[error(
        "cannot read {path}: {reason}\n  Fix or remove the file, or create a new colony with `coral init`"
    )]
    BadConfig { path: PathBuf, reason: String },

    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{0}")]
    Invalid(String),

    #[error(
        "colony {id} is not running (cannot connect to {addr}: connection refused)\n  Start it with `coral colony start {id}` (or `coral colony start --daemon`)"
    )]
    ColonyNotRunning { id: String, addr: String },

    #[error(
        "cannot reach the colony at {url}: {reason}\n  Check that it is running: `coral colony status`"
    )]
    Unreachable { url: String, reason: String },

    #[error("the colony answered {method} with {code}: {message}")]
    Api {
        method: String,
        code: String,
        message: String,
    },

    #[error("colony {id} is already running (pid {pid}); stop it with `coral colony stop {id}`")]
    AlreadyRunning { id: String, pid: u32 },

    #[error(
        "failed to listen on {addr}: address already in use\n  Another colony or program uses port {port}: stop it (`coral colony stop`) or choose another port with `coral colony start --connect-port <port>`"
    )]
    PortInUse { addr: String, port: u16 },

    #[error("colony {id} failed: {message}\n  Logs: {log}")]
    StartFailed {
        id: String,
        message: String,
        log: String,
    },

    #[error("colony failed: {0}")]
    Colony(String),

    #[error("colony {id} did not stop within {seconds}s (pid {pid}); kill it with `kill -9 {pid}`")]
    StopTimeout { id: String, pid: u32, seconds: u64 },

    #[error("{0}")]
    Kube(String),

    #[error("{0}")]
    Io(String),
}
