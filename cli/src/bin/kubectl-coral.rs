//! `kubectl-coral`: the kubectl plugin (`kubectl coral …`).

fn main() -> std::process::ExitCode {
    coral_cli::kubectl_coral_main()
}
