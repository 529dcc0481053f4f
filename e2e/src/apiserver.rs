//! Restarting the local cluster's kube-apiserver in place, for tests of
//! clients that must ride through it. The new process gets the same binary,
//! arguments and environment, appends to the same log and replaces the pid
//! file, so `cargo xtask cluster down` still finds and stops it.

use std::fs::{self, OpenOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cluster::kubeconfig_path;

/// Stops the running kube-apiserver (SIGTERM, as a node reboot or an
/// upgrade would) and starts it again. Returns once the new process runs;
/// callers wait for it to answer.
pub fn restart_apiserver() -> Result<()> {
    let kubeconfig = kubeconfig_path();
    let state = kubeconfig
        .parent()
        .context("the kubeconfig has no parent directory")?;
    let pid_file = state.join("run").join("kube-apiserver.pid");
    let pid: u32 = fs::read_to_string(&pid_file)
        .with_context(|| {
            format!(
                "no {}; is the cluster from `cargo xtask cluster up` running?",
                pid_file.display()
            )
        })?
        .trim()
        .parse()
        .context("the apiserver pid file does not hold a pid")?;
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let exe = fs::read_link(proc_dir.join("exe")).context("the apiserver is not running")?;
    let args = nul_separated(&proc_dir.join("cmdline"))?;
    let environment = nul_separated(&proc_dir.join("environ"))?;

    // SIGTERM as an upgrade would; its graceful drain can outlast a test's
    // patience, so SIGKILL (as the OOM killer would) after 5 s.
    signal("-TERM", pid)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_running(&proc_dir) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if is_running(&proc_dir) {
        signal("-KILL", pid)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        while is_running(&proc_dir) {
            if Instant::now() > deadline {
                bail!("kube-apiserver (pid {pid}) survived SIGKILL for 15 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .open(state.join("logs").join("kube-apiserver.log"))?;
    let child = Command::new(&exe)
        .args(args.iter().skip(1))
        .env_clear()
        .envs(environment.iter().filter_map(|pair| pair.split_once('=')))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: the test's end or Ctrl-C does not reach it.
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {} again", exe.display()))?;
    fs::write(&pid_file, child.id().to_string())?;
    Ok(())
}

fn signal(signal: &str, pid: u32) -> Result<()> {
    Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .context("running kill")?;
    Ok(())
}

/// Alive and not a zombie: the apiserver's parent (`xtask`) is gone, and an
/// init that does not reap leaves it as a zombie after it exits.
fn is_running(proc_dir: &Path) -> bool {
    fs::read_to_string(proc_dir.join("stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

fn nul_separated(path: &Path) -> Result<Vec<String>> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes
        .split(|byte| *byte == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect())
}
