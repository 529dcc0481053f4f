//! Where the CLI keeps its files: `$CORAL_HOME` if set, else `$HOME/.coral`.
//!
//! ```text
//! ~/.coral/config.yaml                 current colony
//! ~/.coral/colonies/<id>.yaml          one colony (0600: it holds its keys)
//! ~/.coral/colonies/<id>/              its data (colony.duckdb)
//! ~/.coral/colonies/<id>.pid|.log      a running colony's pid and daemon logs
//! ```

use std::path::{Path, PathBuf};

use crate::error::CliError;

#[derive(Debug, Clone)]
pub struct CoralHome {
    root: PathBuf,
}

impl CoralHome {
    /// From the environment (`CORAL_HOME`, else `HOME/.coral`).
    pub fn from_env() -> Result<CoralHome, CliError> {
        if let Some(dir) = std::env::var_os("CORAL_HOME").filter(|d| !d.is_empty()) {
            return Ok(CoralHome::at(PathBuf::from(dir)));
        }
        let home = std::env::var_os("HOME")
            .filter(|d| !d.is_empty())
            .ok_or(CliError::NoHome)?;
        Ok(CoralHome::at(PathBuf::from(home).join(".coral")))
    }

    pub fn at(root: PathBuf) -> CoralHome {
        CoralHome { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.yaml")
    }

    pub fn colonies_dir(&self) -> PathBuf {
        self.root.join("colonies")
    }

    pub fn colony_file(&self, id: &str) -> PathBuf {
        self.colonies_dir().join(format!("{id}.yaml"))
    }

    pub fn data_dir(&self, id: &str) -> PathBuf {
        self.colonies_dir().join(id)
    }

    pub fn pid_file(&self, id: &str) -> PathBuf {
        self.colonies_dir().join(format!("{id}.pid"))
    }

    pub fn log_file(&self, id: &str) -> PathBuf {
        self.colonies_dir().join(format!("{id}.log"))
    }
}
