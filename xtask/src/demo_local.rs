//! `cargo xtask demo --local`: the quick-start flow without Kubernetes, on
//! this machine's localhost. `coral init`, `coral colony start --daemon`,
//! the three-tier demo app as plain processes (frontend :3000 → api :8080
//! → database :5432), `coral connect` for each, then `coral status` and
//! `coral topology` once both edges show. Needs root (`coral connect`
//! loads eBPF). Everything lives in its own `CORAL_HOME`, so the user's
//! own colonies are untouched.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cluster, paths, process};

const COLONY_ID: &str = "shop-demo";
const CONNECT_PORT: u16 = 9000;

/// (name, port, what it does): the ports a three-tier app usually has, so
/// the topology reads as users expect.
const TIERS: [(&str, u16, &[&str]); 3] = [
    ("database", 5432, &[]),
    ("api", 8080, &["--upstream", "127.0.0.1:5432"]),
    (
        "frontend",
        3000,
        &["--call", "127.0.0.1:8080", "--interval-ms", "500"],
    ),
];

pub fn run(exit: bool) -> Result<()> {
    require_root()?;
    for port in [CONNECT_PORT, 3000, 8080, 5432] {
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            bail!(
                "port {port} on localhost is in use; the local demo uses fixed ports (9000, 3000, 8080, 5432): stop what uses it and run again"
            );
        }
    }
    step("build coral, coral-node-agent and the demo app");
    process::run(crate::cargo::command().args([
        "build",
        "--quiet",
        "--package=coral-cli",
        "--package=coral-node-agent",
        "--package=coral-demo",
    ]))?;
    let bin = paths::cargo_target_dir().join("debug");
    let dir = cluster::state_dir().root().join("local-demo");
    // A fresh home each run: the colony id and ports are fixed.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let home = dir.join("coral-home");
    let coral = |args: &[&str]| {
        let mut command = Command::new(bin.join("coral"));
        command.env("CORAL_HOME", &home).args(args);
        command
    };

    step("coral init --app shop --env demo");
    process::run(&mut coral(&[
        "init",
        "--app",
        "shop",
        "--env",
        "demo",
        "--colony-id",
        COLONY_ID,
    ]))?;
    step("coral colony start --daemon");
    process::run(&mut coral(&["colony", "start", "--daemon"]))?;
    let mut running = Running::default();

    let result = (|| {
        step(
            "start the app: database :5432, api :8080 (calls the database), frontend :3000 (calls the api)",
        );
        for (name, port, extra) in TIERS {
            let mut command = Command::new(bin.join("coral-demo-app"));
            command
                .args(["--name", name, "--listen", &format!("127.0.0.1:{port}")])
                .args(extra);
            running.spawn(command, &dir.join(format!("{name}.log")))?;
        }
        for (name, port, _) in TIERS.iter().rev() {
            step(&format!("coral connect {name} --port {port}"));
            let log = dir.join(format!("connect-{name}.log"));
            running.spawn(coral(&["connect", name, "--port", &port.to_string()]), &log)?;
            wait_for_line(&log, "Agent running", Duration::from_secs(60))?;
            print!("{}", std::fs::read_to_string(&log).unwrap_or_default());
        }

        step("wait until the colony shows frontend → api → database and the three components");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let topology = process::output(&mut coral(&["topology", "-o", "json"]))?;
            let has = |from: &str, to: &str| {
                topology.contains(&format!("\"source\": \"host/{from}\""))
                    && topology.contains(&format!("\"destination\": \"host/{to}\""))
            };
            // The components come with the agent's heartbeats (10 s).
            let status = process::output(&mut coral(&["status", "-o", "json"]))?;
            let registered = status.matches("\"status\": \"up\"").count() >= TIERS.len();
            if has("frontend", "api") && has("api", "database") && registered {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "the edges did not show within 90 s; logs in {}",
                    dir.display()
                );
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        step("coral status");
        process::run(&mut coral(&["status"]))?;
        step("coral topology");
        process::run(&mut coral(&["topology"]))?;
        Ok(())
    })();

    let home_line = format!("CORAL_HOME={}", home.display());
    if result.is_ok() && !exit {
        eprintln!(
            "\nLook further (in another terminal):\n  {home_line} {0}/coral topology --export mermaid\n  {home_line} {0}/coral colony status\n  logs: {1}\n\nCtrl-C stops the app, the agent and the colony.",
            bin.display(),
            dir.display()
        );
        wait_for_interrupt();
    }
    step("tear down");
    running.stop_all();
    let stopped = process::run(&mut coral(&["colony", "stop"]));
    result.and(stopped)
}

/// Children stopped in reverse start order: connects before the app.
#[derive(Default)]
struct Running(Vec<Child>);

impl Running {
    fn spawn(&mut self, mut command: Command, log: &Path) -> Result<()> {
        let out = File::create(log).with_context(|| format!("create {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("start a demo process")?;
        self.0.push(child);
        Ok(())
    }

    fn stop_all(&mut self) {
        while let Some(mut child) = self.0.pop() {
            // SIGTERM: `coral connect` then removes its component and stops
            // the agent with the last one.
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn wait_for_line(log: &PathBuf, text: &str, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let seen = std::fs::read_to_string(log).unwrap_or_default();
        if seen.contains(text) {
            return Ok(());
        }
        if seen.contains("Error:") || Instant::now() > deadline {
            bail!("{} did not get ready:\n{seen}", log.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_interrupt() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static STOP: AtomicBool = AtomicBool::new(false);
    extern "C" fn on_signal(_: libc::c_int) {
        STOP.store(true, Ordering::SeqCst);
    }
    let handler: extern "C" fn(libc::c_int) = on_signal;
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn require_root() -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        return Ok(());
    }
    bail!(
        "the local demo runs `coral connect`, which loads eBPF and needs root: run it as root (sudo -E cargo xtask demo --local)"
    )
}

fn step(name: &str) {
    eprintln!("\n==> {name}");
}
