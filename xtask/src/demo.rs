//! `cargo xtask demo`: the main job. Brings up the local cluster, installs
//! Coral's CRDs, runs the operator against it, and deploys the demo app of
//! `examples/demo` (a Colony, a three-tier app behind Services and a
//! Connection per tier), shows what Coral made of it, then runs the real
//! processes (`coral-demo`: the colony pod, the node-agent, the app in
//! network namespaces) until traffic shows in `kubectl coral status` and
//! `kubectl coral topology`.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cluster, paths, process};

#[derive(clap::Args)]
pub struct Args {
    /// Stop everything and return once the demo is shown, instead of
    /// running until Ctrl-C.
    #[arg(long)]
    exit: bool,
    /// The local quick-start flow instead, without Kubernetes: a colony, the
    /// app as processes on localhost and `coral connect` (needs root).
    #[arg(long)]
    local: bool,
}

const OPERATOR_HTTP: &str = "127.0.0.1:18080";

pub fn run(args: Args) -> Result<()> {
    if args.local {
        return crate::demo_local::run(args.exit);
    }
    let root = paths::workspace_root();
    crate::install::ensure_ccache()?;
    let running = cluster::up(&cluster::state_dir())?;
    let kubectl = || {
        let mut cmd = Command::new(running.bin_dir.join("kubectl"));
        cmd.env("KUBECONFIG", &running.kubeconfig)
            .arg("--request-timeout=10s");
        cmd
    };

    step("build coral-operator, coral-colony, coral-node-agent, kubectl-coral and the demo app");
    let target = paths::cargo_target_dir();
    process::run(crate::cargo::command().args([
        "build",
        "--quiet",
        "--package=coral-operator",
        "--package=coral-colony",
        "--package=coral-node-agent",
        "--package=coral-cli",
        "--package=coral-demo",
    ]))?;

    step("install CRDs");
    process::run(
        kubectl()
            .args(["apply", "--server-side", "--field-manager=coral-demo", "-f"])
            .arg(root.join("crds")),
    )?;
    process::run(kubectl().args([
        "wait",
        "--for=condition=Established",
        "crd/colonies.coral.io",
        "crd/connections.coral.io",
        "crd/reefs.coral.io",
        "--timeout=30s",
    ]))?;
    for namespace in ["coral-system", "coral-demo"] {
        ensure_namespace(kubectl(), namespace)?;
    }

    step("start coral-operator");
    let log_path = cluster::state_dir().root().join("logs/coral-operator.log");
    let mut operator = OperatorProcess::start(
        &target.join("debug/coral-operator"),
        &running.kubeconfig,
        &log_path,
    )?;

    step("deploy the demo app, its Colony and Connections");
    process::run(
        kubectl()
            .args(["apply", "--server-side", "--field-manager=coral-demo", "-f"])
            .arg(root.join("examples/demo")),
    )?;

    step("wait for the Connections to resolve their pods");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        operator.check_alive(&log_path)?;
        let ready = process::output(kubectl().args([
            "get",
            "connections",
            "--namespace=coral-demo",
            "-o",
            "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\" \"}{end}",
        ]))?;
        if ready.split_whitespace().filter(|s| *s == "True").count() == 3 {
            break;
        }
        if Instant::now() > deadline {
            eprintln!(
                "xtask: the Connections did not all become Ready within 90s; showing what there is"
            );
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }

    step("what Coral made of it: kubectl get coral -n coral-demo");
    process::run(kubectl().args(["get", "coral", "--namespace=coral-demo", "-o", "wide"]))?;
    step("the colony's children");
    process::run(kubectl().args([
        "get",
        "statefulsets,services,configmaps,secrets,pods",
        "--namespace=coral-demo",
        "--selector=app.kubernetes.io/managed-by=coral-operator",
    ]))?;
    step("the node-agent DaemonSet the operator keeps while a Colony exists");
    process::run(kubectl().args(["get", "daemonsets", "--namespace=coral-system"]))?;

    let demo_dir = cluster::state_dir().root().join("demo");
    let mut coral_demo = Command::new(target.join("debug/coral-demo"));
    coral_demo
        .env("KUBECONFIG", &running.kubeconfig)
        .arg("--dir")
        .arg(&demo_dir);
    if args.exit {
        coral_demo.arg("--exit");
    }
    // Ctrl-C reaches every process of the terminal's group: coral-demo
    // cleans up on it, and xtask waits for that, then stops the operator.
    ignore_interrupts_here();
    let shown = process::run(&mut coral_demo);
    operator.stop();
    let env_line = "eval \"$(cargo xtask cluster env)\"";
    eprintln!(
        "\nThe cluster stays up:\n  {env_line}\n  kubectl describe colony shop-demo -n coral-demo\n  kubectl get connections -n coral-demo -o yaml\n  operator log: {}\n\nTear down: `cargo xtask cluster down`.",
        log_path.display()
    );
    shown
}

/// A no-op SIGINT handler for xtask itself (children get the default
/// action back on exec, unlike with SIG_IGN).
fn ignore_interrupts_here() {
    extern "C" fn noop(_: libc::c_int) {}
    let handler: extern "C" fn(libc::c_int) = noop;
    // SAFETY: installing a handler that does nothing, async-signal-safe.
    unsafe { libc::signal(libc::SIGINT, handler as libc::sighandler_t) };
}

fn step(name: &str) {
    eprintln!("\n==> {name}");
}

fn ensure_namespace(mut kubectl: Command, name: &str) -> Result<()> {
    let manifest = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n");
    process::run_with_stdin(
        kubectl.args([
            "apply",
            "--server-side",
            "--field-manager=coral-demo",
            "-f",
            "-",
        ]),
        &manifest,
    )
}

/// The operator as a child process logging to a file.
struct OperatorProcess {
    child: Child,
}

impl OperatorProcess {
    fn start(binary: &Path, kubeconfig: &Path, log_path: &Path) -> Result<Self> {
        fs::create_dir_all(log_path.parent().expect("log dir"))?;
        let log = File::create(log_path)?;
        let child = Command::new(binary)
            .env("KUBECONFIG", kubeconfig)
            .args(["--namespace", "coral-system", "--http-addr", OPERATOR_HTTP])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(OperatorProcess { child })
    }

    fn check_alive(&mut self, log_path: &Path) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let log = fs::read_to_string(log_path).unwrap_or_default();
            let tail: Vec<_> = log.lines().rev().take(20).collect();
            bail!(
                "coral-operator exited ({status}); last lines of {}:\n{}",
                log_path.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    fn stop(mut self) {
        // SAFETY: a plain signal to our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}
