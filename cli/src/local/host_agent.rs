//! The one node-agent that observes this host for a colony, shared by every
//! `coral connect` of that colony: a second agent would load the eBPF
//! program again and count each connection twice. Each `coral connect`
//! writes `<component>.workload` into the colony's connections directory,
//! which the agent reads every 2 s (`--workloads-dir`); the first one starts
//! the agent, the last one to leave stops it.
//!
//! ```text
//! ~/.coral/colonies/<id>.connections/<component>.workload   [NS/]NAME=IP:PORT lines
//! ~/.coral/colonies/<id>.connections/agent.pid|agent.log    the agent
//! ~/.coral/colonies/<id>.connections/state/                 its WireGuard key, batch sequence
//! ```

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::colony_file::{ColonyFile, write_private};
use crate::error::CliError;
use crate::home::CoralHome;
use crate::local::process;

/// The agent's TUN device: not the colony's (`coral0`), which may run on
/// this host too.
const MESH_INTERFACE: &str = "coral-host0";
const WORKLOAD_SUFFIX: &str = "workload";
/// The agent's own delivery grace is 5 s, plus its last drain.
const AGENT_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

pub struct Connections {
    dir: PathBuf,
}

impl Connections {
    pub fn of(home: &CoralHome, colony_id: &str) -> Connections {
        Connections {
            dir: home.colonies_dir().join(format!("{colony_id}.connections")),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn workload_file(&self, component: &str) -> PathBuf {
        self.dir.join(format!("{component}.{WORKLOAD_SUFFIX}"))
    }

    pub fn agent_log(&self) -> PathBuf {
        self.dir.join("agent.log")
    }

    fn agent_pid_file(&self) -> PathBuf {
        self.dir.join("agent.pid")
    }

    /// The `coral connect` process holding `component`, if alive.
    pub fn holder(&self, component: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.workload_file(component)).ok()?;
        let pid = text
            .lines()
            .find_map(|line| line.strip_prefix("# coral connect pid "))?
            .trim()
            .parse()
            .ok()?;
        process::is_alive(pid).then_some(pid)
    }

    /// Names `component` as the process serving `port` on this host's
    /// loopback addresses, held by this process.
    pub fn add(&self, namespace: &str, component: &str, port: u16) -> Result<(), CliError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| CliError::Write {
            path: self.dir.clone(),
            source,
        })?;
        let text = format!(
            "# coral connect pid {}\n{namespace}/{component}=127.0.0.1:{port}\n\
             {namespace}/{component}=[::1]:{port}\n",
            std::process::id()
        );
        write_private(&self.workload_file(component), &text)
    }

    pub fn remove(&self, component: &str) {
        let _ = std::fs::remove_file(self.workload_file(component));
    }

    /// Components still connected (their files).
    pub fn remaining(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == WORKLOAD_SUFFIX))
                    .count()
            })
            .unwrap_or(0)
    }

    pub fn running_agent(&self) -> Option<u32> {
        process::read_pid(&self.agent_pid_file()).filter(|pid| process::is_alive(*pid))
    }

    /// Starts the agent in the background (own process group, output to
    /// `agent.log`), reporting to the colony's local connect port.
    pub fn start_agent(&self, file: &ColonyFile) -> Result<u32, CliError> {
        let binary = agent_binary()?;
        let token_file = self.dir.join("token");
        write_private(&token_file, &file.enrollment_token)?;
        let (out, err) = process::append_log(&self.agent_log())?;
        let child = Command::new(&binary)
            .args(["--mode", "host"])
            .arg("--workloads-dir")
            .arg(&self.dir)
            .args(["--colony-endpoint", &file.local_url()])
            .arg("--enrollment-token-file")
            .arg(&token_file)
            .arg("--state-dir")
            .arg(self.dir.join("state"))
            .args(["--mesh-interface", MESH_INTERFACE])
            .args(["--metrics-addr", "127.0.0.1:0"])
            .args(["--agent-id", &agent_id()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| CliError::Io(format!("cannot start {}: {e}", binary.display())))?;
        write_private(&self.agent_pid_file(), &format!("{}\n", child.id()))?;
        Ok(child.id())
    }

    /// Stops the agent when no component is left, and waits for it: it
    /// delivers its last batch first (so the colony should still run).
    pub fn stop_agent_if_unused(&self) {
        if self.remaining() > 0 {
            return;
        }
        if let Some(pid) = self.running_agent() {
            let _ = process::terminate(pid);
            let deadline = std::time::Instant::now() + AGENT_STOP_TIMEOUT;
            while process::is_alive(pid) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        let _ = std::fs::remove_file(self.agent_pid_file());
    }
}

/// The id the host agent enrolls under: one per host.
pub fn agent_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    format!("{host}-host")
}

/// `coral-node-agent` beside this binary (as installed and as built by
/// cargo), else on PATH.
fn agent_binary() -> Result<PathBuf, CliError> {
    const NAME: &str = "coral-node-agent";
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(NAME)))
        .filter(|path| path.is_file());
    let on_path = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(NAME))
                .find(|path| path.is_file())
        })
    };
    beside.or_else(on_path).ok_or_else(|| {
        CliError::Invalid(format!(
            "coral connect runs {NAME}, which is neither beside coral nor on PATH; install it \
             next to coral (cargo build --release -p coral-node-agent builds it)"
        ))
    })
}
