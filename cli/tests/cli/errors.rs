//! Every command's error cases: a message saying what to do, a non-zero
//! exit, never a panic; plus help and version everywhere.

use predicates::prelude::*;

use crate::support::{Home, free_port};

fn no_panic() -> impl Predicate<str> {
    predicate::str::contains("panicked").not()
}

#[test]
fn version_and_help_everywhere() {
    let home = Home::new();
    home.coral()
        .arg("version")
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"^coral \d+\.\d+\.\d+\n$").unwrap());
    let json = home
        .coral()
        .args(["version", "-o", "json"])
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["name"], "coral");
    home.coral().arg("--version").assert().success();
    for args in [
        &["--help"][..],
        &["init", "--help"],
        &["colony", "--help"],
        &["colony", "start", "--help"],
        &["colony", "stop", "--help"],
        &["colony", "list", "--help"],
        &["colony", "current", "--help"],
        &["colony", "use", "--help"],
        &["colony", "status", "--help"],
        &["status", "--help"],
        &["topology", "--help"],
        &["connect", "--help"],
        &["proxy", "--help"],
        &["proxy", "start", "--help"],
        &["version", "--help"],
    ] {
        home.coral()
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage:"));
    }
    let mut kubectl = assert_cmd::Command::cargo_bin("kubectl-coral").unwrap();
    kubectl
        .arg("version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("kubectl-coral "));
    for args in [
        &["--help"][..],
        &["colony", "--help"],
        &["colony", "list", "--help"],
        &["colony", "status", "--help"],
        &["connect", "--help"],
        &["status", "--help"],
        &["topology", "--help"],
    ] {
        assert_cmd::Command::cargo_bin("kubectl-coral")
            .unwrap()
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: kubectl coral"));
    }
}

#[test]
fn commands_without_a_colony_say_to_run_init() {
    let home = Home::new();
    for args in [
        &["status"][..],
        &["topology"],
        &["colony", "start"],
        &["colony", "start", "--daemon"],
        &["colony", "stop"],
        &["colony", "current"],
        &["colony", "status"],
    ] {
        home.coral()
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("run `coral init`"))
            .stderr(no_panic());
    }
    home.coral()
        .args(["colony", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("No colonies yet"));
    home.coral()
        .args(["colony", "list", "-o", "json"])
        .assert()
        .success()
        .stdout("[]\n");
}

#[test]
fn unknown_colony_ids_are_named_with_the_known_ones() {
    let home = Home::new();
    home.init("shop", "dev", "shop-dev-aaaaaa", free_port());
    for args in [
        &["colony", "use", "nope"][..],
        &["colony", "start", "nope"],
        &["colony", "stop", "nope"],
        &["colony", "status", "nope"],
        &["status", "--colony", "nope"],
        &["topology", "--colony", "nope"],
    ] {
        home.coral()
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("colony not found: nope"))
            .stderr(predicate::str::contains("shop-dev-aaaaaa"))
            .stderr(no_panic());
    }
}

#[test]
fn a_colony_that_is_not_running() {
    let home = Home::new();
    home.init("shop", "dev", "shop-dev-bbbbbb", free_port());
    for args in [&["status"][..], &["topology"]] {
        home.coral()
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "colony shop-dev-bbbbbb is not running",
            ))
            .stderr(predicate::str::contains("coral colony start"))
            .stderr(no_panic());
    }
    home.coral()
        .args(["colony", "stop"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is not running (nothing to stop)"));
    home.coral()
        .args(["colony", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Status:      stopped"))
        .stdout(predicate::str::contains(
            "Start it: coral colony start shop-dev-bbbbbb",
        ));
}

#[test]
fn init_refuses_bad_input() {
    let home = Home::new();
    // Not a terminal: the flags are required.
    home.coral()
        .arg("init")
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "--app is required when not run interactively",
        ));
    home.coral()
        .args(["init", "--app", "shop"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--env is required"));
    home.coral()
        .args(["init", "--app", "My_App", "--env", "dev"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "application \"My_App\" is not valid",
        ));
    home.init("shop", "dev", "shop-dev-cccccc", free_port());
    home.coral()
        .args([
            "init",
            "--app",
            "shop",
            "--env",
            "dev",
            "--colony-id",
            "shop-dev-cccccc",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "colony shop-dev-cccccc already exists",
        ));
}

#[test]
fn bad_flags_are_usage_errors() {
    let home = Home::new();
    for args in [
        &["-o", "xml", "version"][..],
        &["topology", "--window", "5x"],
        &["topology", "--window", "0"],
        &["colony", "frobnicate"],
        &["init", "--connect-port", "70000"],
        &["nope"],
    ] {
        home.coral().args(args).assert().code(2).stderr(no_panic());
    }
    home.init("shop", "dev", "shop-dev-dddddd", free_port());
    home.coral()
        .args(["topology", "--export", "png"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("use dot, mermaid or json"));
}

#[test]
fn no_home_and_damaged_files() {
    let home = Home::new();
    home.coral()
        .env_remove("HOME")
        .env_remove("CORAL_HOME")
        .arg("status")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("set CORAL_HOME (or HOME)"));
    home.init("shop", "dev", "shop-dev-eeeeee", free_port());
    let path = home.coral_home().join("colonies/shop-dev-eeeeee.yaml");
    std::fs::write(&path, "colony_id: [unclosed\n").unwrap();
    home.coral()
        .arg("status")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read"))
        .stderr(predicate::str::contains("shop-dev-eeeeee.yaml"))
        .stderr(no_panic());
}

#[test]
fn several_colonies_need_a_current_one() {
    let home = Home::new();
    home.init("shop", "dev", "shop-dev-ffffff", free_port());
    home.init("shop", "prod", "shop-prod-ffffff", free_port());
    // init makes the newest current.
    home.coral()
        .args(["colony", "current"])
        .assert()
        .success()
        .stdout("shop-prod-ffffff\n");
    home.coral()
        .args(["colony", "use", "shop-dev-ffffff"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Current colony: shop-dev-ffffff"));
    home.coral()
        .args(["colony", "current"])
        .assert()
        .success()
        .stdout("shop-dev-ffffff\n");
    home.coral()
        .args(["colony", "list"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"\*\s+shop-dev-ffffff\s+shop\s+dev\s+stopped").unwrap())
        .stdout(
            predicate::str::is_match(r"\n\s+shop-prod-ffffff\s+shop\s+prod\s+stopped").unwrap(),
        );
    std::fs::remove_file(home.coral_home().join("config.yaml")).unwrap();
    home.coral()
        .args(["colony", "current"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("coral colony use <colony-id>"));
}
