//! `coral-demo`: runs the demo's real processes for the Colony and app of
//! `examples/demo` (applied, with the operator running) until Ctrl-C.
//! `cargo xtask demo` starts it; it shows `kubectl coral status` and
//! `kubectl coral topology` once traffic is seen.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use coral_demo::{Binaries, Demo, DemoOptions, Load, pod_network};

#[derive(Parser)]
#[command(about = "Run the Coral demo's colony, node-agent and app processes")]
struct Args {
    #[arg(long, default_value = "coral-demo")]
    namespace: String,
    #[arg(long, default_value = "shop-demo")]
    colony: String,
    /// The node whose pods run for real.
    #[arg(long, default_value = "coral-node-1")]
    node: String,
    /// The operator's namespace, where it keeps the node-agents' colonies file.
    #[arg(long, default_value = "coral-system")]
    operator_namespace: String,
    /// Where the colony and agent keep their files.
    #[arg(long)]
    dir: PathBuf,
    /// Return once the topology is shown instead of running until Ctrl-C.
    #[arg(long)]
    exit: bool,
}

#[tokio::main]
async fn main() {
    if let Err(error) = run(Args::parse()).await {
        eprintln!("Error: {error:#}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<()> {
    let removed = pod_network::remove_leftovers()?;
    if removed > 0 {
        eprintln!("removed {removed} network namespaces left by an earlier demo");
    }
    let kubeconfig: PathBuf = std::env::var_os("KUBECONFIG")
        .context("KUBECONFIG is not set; run `eval \"$(cargo xtask cluster env)\"`")?
        .into();
    let client = kube::Client::try_default()
        .await
        .context("cannot reach the cluster in KUBECONFIG; is `cargo xtask cluster up` done?")?;
    let bin_dir = std::env::current_exe()?
        .parent()
        .context("the demo binary has no directory")?
        .to_owned();
    let options = DemoOptions {
        namespace: args.namespace.clone(),
        colony: args.colony.clone(),
        node: args.node.clone(),
        kubeconfig,
        binaries: Binaries::in_dir(&bin_dir),
        dir: args.dir.clone(),
        operator_namespace: args.operator_namespace.clone(),
        load: Load {
            interval: Duration::from_millis(500),
            calls_per_client: 0,
        },
    };
    step(&format!(
        "run {}'s pods on {} for real: the colony, the node-agent, the app in network namespaces",
        args.namespace, args.node
    ));
    let demo = Demo::start(&client, &options).await?;
    for pod in &demo.pods {
        eprintln!("  {:<28} {:<9} {}", pod.name, pod.app, pod.ip);
    }

    step("wait until the node-agent's reports show frontend → api → database");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let front = demo.connections(&args.namespace, "frontend", "api").await;
        let back = demo.connections(&args.namespace, "api", "database").await;
        if let (Ok(front), Ok(back)) = (&front, &back)
            && *front > 0
            && *back > 0
        {
            eprintln!("  frontend → api: {front} connections, api → database: {back}");
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "no traffic seen within 90 s (frontend → api: {front:?}, api → database: {back:?});\n{}",
                demo.logs()
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let kubectl_coral = bin_dir.join("kubectl-coral");
    step(&format!("kubectl coral status -n {}", args.namespace));
    show(&kubectl_coral, &["-n", &args.namespace, "status"]);
    step(&format!("kubectl coral topology -n {}", args.namespace));
    show(&kubectl_coral, &["-n", &args.namespace, "topology"]);

    let bin_dir_text = bin_dir.display();
    eprintln!(
        "\nLook further (`kubectl coral` needs kubectl-coral on PATH: export PATH={bin_dir_text}:$PATH):\n  kubectl coral topology -n {ns} --export dot\n  kubectl coral status -n {ns} -o yaml\n  kubectl get coral -n {ns}",
        ns = args.namespace
    );
    if args.exit {
        drop(demo);
        return Ok(());
    }
    eprintln!("\nThe demo runs until Ctrl-C; `cargo xtask cluster down` removes the cluster.");
    coral_telemetry::shutdown_signal()
        .context("cannot handle SIGINT/SIGTERM")?
        .await;
    eprintln!("stopping the demo's processes and removing its network namespaces");
    drop(demo);
    Ok(())
}

fn step(name: &str) {
    eprintln!("\n==> {name}");
}

/// Runs `kubectl-coral` as the user would; a failure is shown, not fatal.
fn show(binary: &Path, args: &[&str]) {
    match Command::new(binary).args(args).status() {
        Ok(status) if status.success() => {}
        Ok(status) => eprintln!("({} exited with {status})", binary.display()),
        Err(error) => eprintln!("cannot run {}: {error}", binary.display()),
    }
}
