//! `coral`: the local CLI.

fn main() -> std::process::ExitCode {
    coral_cli::coral_main()
}
