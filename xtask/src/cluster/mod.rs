//! `cargo xtask cluster up|down|status|env`: a real Kubernetes control plane
//! on 127.0.0.1 (etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler) with kwok simulating the kubelets of three fake nodes.

mod components;
mod layout;
mod nodes;
mod pki;
mod readiness;
mod storage;
pub mod tools;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::process;
use components::COMPONENTS;
use layout::{APISERVER_PORT, StateDir};

#[derive(Subcommand)]
pub enum Action {
    /// Build (once) and start the control plane; a no-op when it is already up.
    Up,
    /// Stop every process of the cluster and remove its state.
    Down,
    /// Show which components run and whether the API server is ready.
    Status,
    /// Print shell lines for `eval "$(cargo xtask cluster env)"`.
    Env,
}

pub fn run(action: Action) -> Result<()> {
    let state = StateDir::locate();
    match action {
        Action::Up => up(&state).map(|_| ()),
        Action::Down => down(&state),
        Action::Status => status(&state),
        Action::Env => env(&state),
    }
}

/// What a caller needs to talk to a running cluster.
pub struct Running {
    pub kubeconfig: PathBuf,
    pub bin_dir: PathBuf,
    /// False when the cluster was already up before this call.
    pub started_now: bool,
}

pub fn up(state: &StateDir) -> Result<Running> {
    let bin_dir = tools::ensure_built()?;
    if is_up(state, &bin_dir) {
        eprintln!(
            "xtask: local cluster is already up ({})",
            state.root().display()
        );
        return Ok(Running {
            kubeconfig: state.kubeconfig(),
            bin_dir,
            started_now: false,
        });
    }
    // Half-up leftovers (a crash, a killed shell) would fight for ports.
    stop_all(state);
    let _ = fs::remove_dir_all(state.root());

    let started = Instant::now();
    if let Err(err) = start_all(state, &bin_dir) {
        stop_all(state);
        return Err(err.context(format!(
            "the local cluster did not come up; logs are in {}",
            state.root().join("logs").display()
        )));
    }
    eprintln!(
        "xtask: local cluster is up in {:.1}s: {} fake nodes Ready",
        started.elapsed().as_secs_f64(),
        nodes::NODE_COUNT
    );
    eprintln!("  eval \"$(cargo xtask cluster env)\" && kubectl get nodes");
    Ok(Running {
        kubeconfig: state.kubeconfig(),
        bin_dir,
        started_now: true,
    })
}

fn start_all(state: &StateDir, bin_dir: &std::path::Path) -> Result<()> {
    fs::create_dir_all(state.root())?;
    fs::write(state.bin_dir_record(), bin_dir.display().to_string())?;
    pki::generate(state)?;
    pki::write_kubeconfig(state, &format!("https://127.0.0.1:{APISERVER_PORT}"))?;
    let stages = process::output(&mut Command::new(bin_dir.join("kwok-stages")))?;
    fs::write(state.kwok_config(), stages)?;

    let kubectl = || kubectl(state, bin_dir);
    let deadline = Duration::from_secs(60);

    components::start("etcd", bin_dir, state)?;
    readiness::wait_for("etcd", state, deadline, || {
        readiness::http_ok(layout::ETCD_CLIENT_PORT, "/health")
    })?;
    components::start("kube-apiserver", bin_dir, state)?;
    readiness::wait_for("kube-apiserver", state, deadline, || {
        kubectl()
            .args(["get", "--raw=/readyz"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })?;
    components::start("kube-controller-manager", bin_dir, state)?;
    components::start("kube-scheduler", bin_dir, state)?;
    components::start("kwok", bin_dir, state)?;

    let mut apply = kubectl();
    apply.args(["apply", "-f", "-"]);
    process::run_with_stdin(&mut apply, &nodes::manifest())?;
    let mut apply = kubectl();
    apply.args(["apply", "-f", "-"]);
    process::run_with_stdin(&mut apply, &storage::manifest(state.root()))?;
    readiness::wait_for("kwok", state, deadline, || {
        kubectl()
            .args([
                "wait",
                "--for=condition=Ready",
                "node",
                "--all",
                "--timeout=2s",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })?;
    // Pods need the `default` ServiceAccount, made by the controller-manager.
    readiness::wait_for("kube-controller-manager", state, deadline, || {
        kubectl()
            .args(["get", "serviceaccount", "default", "--namespace=default"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })?;
    Ok(())
}

fn is_up(state: &StateDir, bin_dir: &std::path::Path) -> bool {
    COMPONENTS
        .iter()
        .all(|c| components::running_pid(c, state).is_some())
        && kubectl(state, bin_dir)
            .args(["get", "--raw=/readyz"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Stops components in reverse start order, then anything else still
/// holding the state dir; returns how many processes were stopped.
fn stop_all(state: &StateDir) -> usize {
    let mut stopped = 0;
    for component in COMPONENTS.iter().rev() {
        if let Some(pid) = components::running_pid(component, state) {
            components::stop_pid(pid, Duration::from_secs(10));
            stopped += 1;
        }
    }
    for pid in components::strays(state) {
        components::stop_pid(pid, Duration::from_secs(5));
        stopped += 1;
    }
    stopped
}

fn down(state: &StateDir) -> Result<()> {
    let stopped = stop_all(state);
    if state.root().exists() {
        fs::remove_dir_all(state.root())
            .with_context(|| format!("removing {}", state.root().display()))?;
    }
    eprintln!("xtask: local cluster is down ({stopped} processes stopped, state removed)");
    Ok(())
}

fn status(state: &StateDir) -> Result<()> {
    let mut running = 0;
    for component in COMPONENTS {
        match components::running_pid(component, state) {
            Some(pid) => {
                running += 1;
                println!("{component:<24} running (pid {pid})");
            }
            None => println!("{component:<24} stopped"),
        }
    }
    if running == 0 {
        println!("\nThe local cluster is down. Start it with: cargo xtask cluster up");
        return Ok(());
    }
    let bin_dir = recorded_bin_dir(state)?;
    let mut nodes = kubectl(state, &bin_dir);
    nodes.args(["get", "nodes", "-o", "wide"]);
    match process::output(&mut nodes) {
        Ok(table) => println!("\n{table}"),
        Err(err) => println!("\nAPI server not answering: {err:#}"),
    }
    if running < COMPONENTS.len() {
        bail!(
            "the local cluster is only partly running; restart it with: cargo xtask cluster down && cargo xtask cluster up"
        );
    }
    Ok(())
}

fn env(state: &StateDir) -> Result<()> {
    let bin_dir = match recorded_bin_dir(state) {
        Ok(dir) => dir,
        Err(_) => tools::bin_dir()?,
    };
    if COMPONENTS
        .iter()
        .any(|c| components::running_pid(c, state).is_none())
    {
        eprintln!("xtask: warning: the local cluster is not up; run: cargo xtask cluster up");
    }
    println!("export KUBECONFIG={}", shell_quote(&state.kubeconfig()));
    println!("export PATH={}:\"$PATH\"", shell_quote(&bin_dir));
    Ok(())
}

fn recorded_bin_dir(state: &StateDir) -> Result<PathBuf> {
    let text = fs::read_to_string(state.bin_dir_record())
        .context("the local cluster has no state; run: cargo xtask cluster up")?;
    Ok(PathBuf::from(text.trim()))
}

/// kubectl from the cluster's own build, pointed at its kubeconfig.
pub fn kubectl(state: &StateDir, bin_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(bin_dir.join("kubectl"));
    cmd.env("KUBECONFIG", state.kubeconfig())
        .arg("--request-timeout=5s");
    cmd
}

fn shell_quote(path: &std::path::Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// The state dir of the cluster `cargo xtask test` and the demo use.
pub fn state_dir() -> StateDir {
    StateDir::locate()
}
