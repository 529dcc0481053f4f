//! The control-plane processes: their command lines, and starting and
//! stopping them as detached processes tracked by pid files.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::layout::{APISERVER_PORT, ETCD_CLIENT_PORT, ETCD_PEER_PORT, SERVICE_CIDR, StateDir};

/// Start order; stop runs in reverse.
pub const COMPONENTS: &[&str] = &[
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
];

/// Pod addresses come from each fake node's podCIDR inside this range.
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";

pub fn args(component: &str, state: &StateDir) -> Vec<String> {
    let pki = |file: &str| state.pki(file).display().to_string();
    let kubeconfig = state.kubeconfig().display().to_string();
    let etcd = format!("http://127.0.0.1:{ETCD_CLIENT_PORT}");
    let list: Vec<String> = match component {
        "etcd" => vec![
            "--name=coral-local".into(),
            format!("--data-dir={}", state.etcd_data().display()),
            format!("--listen-client-urls={etcd}"),
            format!("--advertise-client-urls={etcd}"),
            format!("--listen-peer-urls=http://127.0.0.1:{ETCD_PEER_PORT}"),
            format!("--initial-advertise-peer-urls=http://127.0.0.1:{ETCD_PEER_PORT}"),
            format!("--initial-cluster=coral-local=http://127.0.0.1:{ETCD_PEER_PORT}"),
            // A throwaway test cluster: trade durability for speed.
            "--unsafe-no-fsync=true".into(),
            "--quota-backend-bytes=4294967296".into(),
        ],
        "kube-apiserver" => vec![
            format!("--etcd-servers={etcd}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            format!("--secure-port={APISERVER_PORT}"),
            format!("--tls-cert-file={}", pki("apiserver.crt")),
            format!("--tls-private-key-file={}", pki("apiserver.key")),
            format!("--client-ca-file={}", pki("ca.crt")),
            format!("--service-account-key-file={}", pki("sa.pub")),
            format!("--service-account-signing-key-file={}", pki("sa.key")),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            "--authorization-mode=RBAC".into(),
            "--allow-privileged=true".into(),
            "--enable-priority-and-fairness=false".into(),
            "--profiling=false".into(),
            "--endpoint-reconciler-type=none".into(),
        ],
        "kube-controller-manager" => vec![
            format!("--kubeconfig={kubeconfig}"),
            format!("--authentication-kubeconfig={kubeconfig}"),
            format!("--authorization-kubeconfig={kubeconfig}"),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=10257".into(),
            format!("--service-account-private-key-file={}", pki("sa.key")),
            format!("--root-ca-file={}", pki("ca.crt")),
            format!("--cluster-cidr={CLUSTER_CIDR}"),
            format!("--service-cluster-ip-range={SERVICE_CIDR}"),
            "--leader-elect=false".into(),
            "--profiling=false".into(),
        ],
        "kube-scheduler" => vec![
            format!("--kubeconfig={kubeconfig}"),
            format!("--authentication-kubeconfig={kubeconfig}"),
            format!("--authorization-kubeconfig={kubeconfig}"),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=10259".into(),
            "--leader-elect=false".into(),
            "--profiling=false".into(),
        ],
        "kwok" => vec![
            format!("--kubeconfig={kubeconfig}"),
            format!("--config={}", state.kwok_config().display()),
            "--manage-all-nodes=false".into(),
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".into(),
            "--node-ip=127.0.0.1".into(),
            format!("--cidr={CLUSTER_CIDR}"),
            "--server-address=127.0.0.1:10247".into(),
        ],
        other => unreachable!("unknown component {other}"),
    };
    list
}

/// Starts a component detached (own session, so Ctrl-C on `xtask` does not
/// reach it) with output to its log file, and records its pid.
pub fn start(component: &str, bin_dir: &Path, state: &StateDir) -> Result<u32> {
    let log_path = state.log(component);
    fs::create_dir_all(log_path.parent().expect("log dir"))?;
    fs::create_dir_all(state.pid(component).parent().expect("pid dir"))?;
    let log = File::create(&log_path)?;
    let mut cmd = Command::new(bin_dir.join(component));
    cmd.args(args(component, state))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe and touches no Rust state.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .with_context(|| format!("starting {component}"))?;
    fs::write(state.pid(component), child.id().to_string())?;
    Ok(child.id())
}

/// The pid of a component that is still running, if any.
pub fn running_pid(component: &str, state: &StateDir) -> Option<u32> {
    let pid: u32 = fs::read_to_string(state.pid(component))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // After a reboot or a killed session the pid may belong to someone else
    // now: ours always carry the state dir on their command line.
    (is_alive(pid) && mentions_state_dir(pid, state)).then_some(pid)
}

/// True when the process runs one of the built control-plane binaries (not,
/// say, a shell that merely tails a log in the state dir).
fn runs_a_cluster_tool(pid: u32) -> bool {
    let tools_root = crate::paths::cache_dir().join("cluster-tools");
    fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe.starts_with(&tools_root))
}

fn mentions_state_dir(pid: u32, state: &StateDir) -> bool {
    let needle = state.root().display().to_string();
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).contains(&needle))
        .unwrap_or(false)
}

pub fn is_alive(pid: u32) -> bool {
    // A zombie has exited; only its parent's wait is missing.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// SIGTERM, then SIGKILL after a grace period.
pub fn stop_pid(pid: u32, grace: Duration) {
    let pid_t = pid as libc::pid_t;
    // SAFETY: plain syscalls on a pid we started.
    unsafe { libc::kill(pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while is_alive(pid) && Instant::now() < deadline {
        sleep(Duration::from_millis(100));
    }
    if is_alive(pid) {
        unsafe { libc::kill(pid_t, libc::SIGKILL) };
        while is_alive(pid) {
            sleep(Duration::from_millis(50));
        }
    }
}

/// Every control-plane process whose command line mentions the state dir: a
/// safety net so `down` leaves nothing behind even when a pid file was lost.
pub fn strays(state: &StateDir) -> Vec<u32> {
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me && runs_a_cluster_tool(*pid) && mentions_state_dir(*pid, state))
        .collect()
}
