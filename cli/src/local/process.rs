//! Pid files of running colonies (`~/.coral/colonies/<id>.pid`), written by
//! the colony process itself, foreground or daemon.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::CliError;
use crate::home::CoralHome;

/// Whether `pid` is a live (not zombie) process running a coral binary.
pub fn is_alive(pid: u32) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else {
        return false;
    };
    // State is the field after the parenthesised command name.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z" | "X" | "x")) {
        return false;
    }
    // A pid reused by another program after a reboot is not our colony.
    std::fs::read(proc_dir.join("cmdline"))
        .map(|cmdline| String::from_utf8_lossy(&cmdline).contains("coral"))
        .unwrap_or(false)
}

pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The pid of the running colony `id`; a stale pid file is removed.
pub fn running(home: &CoralHome, id: &str) -> Option<u32> {
    let path = home.pid_file(id);
    let pid = read_pid(&path)?;
    if is_alive(pid) {
        Some(pid)
    } else {
        let _ = std::fs::remove_file(&path);
        None
    }
}

/// Holds `<id>.pid` while the colony runs; removes it when dropped.
pub struct PidFile {
    path: PathBuf,
    pid: u32,
}

impl PidFile {
    pub fn create(home: &CoralHome, id: &str) -> Result<PidFile, CliError> {
        if let Some(pid) = running(home, id)
            && pid != std::process::id()
        {
            return Err(CliError::AlreadyRunning {
                id: id.to_owned(),
                pid,
            });
        }
        let path = home.pid_file(id);
        let pid = std::process::id();
        crate::colony_file::write_private(&path, &format!("{pid}\n"))?;
        Ok(PidFile { path, pid })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if read_pid(&self.path) == Some(self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A background process's stdout and stderr: the log `path`, created if
/// missing and appended to.
pub fn append_log(path: &Path) -> Result<(File, File), CliError> {
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| CliError::Write {
            path: path.to_owned(),
            source,
        })?;
    let err = out
        .try_clone()
        .map_err(|e| CliError::Io(format!("log file {}: {e}", path.display())))?;
    Ok((out, err))
}

/// `kill -TERM <pid>`.
pub fn terminate(pid: u32) -> Result<(), CliError> {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .map_err(|e| CliError::Io(format!("cannot run kill: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::Io(format!(
            "kill -TERM {pid} failed; is it your process?"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_file_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let home = CoralHome::at(dir.path().to_owned());
        std::fs::create_dir_all(home.colonies_dir()).unwrap();
        // Our own test binary is named coral_cli-…, so it counts as alive.
        let guard = PidFile::create(&home, "c").unwrap();
        assert_eq!(running(&home, "c"), Some(std::process::id()));
        drop(guard);
        assert_eq!(running(&home, "c"), None);
        // A dead pid is stale and removed.
        std::fs::write(home.pid_file("c"), "999999999\n").unwrap();
        assert_eq!(running(&home, "c"), None);
        assert!(!home.pid_file("c").exists());
    }
}
