//! `coral`: the local CLI.

// `coral colony start` runs the colony in this process: the colony's
// allocator (colony/src/main.rs says why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    coral_cli::coral_main()
}
