//! The local quick-start flow on real processes: `coral init`, `coral colony
//! start --daemon`, agents reporting through the colony's Connect-JSON
//! API, then `coral status` / `coral topology` showing what they reported.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

use crate::support::{
    Home, edge, free_port, read_pid, report_demo_traffic, stdout_of, u64_of, wait_gone,
};

#[test]
fn init_writes_a_private_colony_file_with_a_wireguard_keypair() {
    let home = Home::new();
    let output = home
        .coral()
        .args(["init", "--app", "my-app", "--env", "dev"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = stdout_of(&output);
    let id = stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("✓ Colony initialized: "))
        .unwrap_or_else(|| panic!("init's first line: {stdout}"))
        .to_owned();
    assert!(
        looks_like_a_generated_id(&id),
        "id {id:?} should look like my-app-dev-a1b2c3"
    );
    let path = home
        .coral_home()
        .join("colonies")
        .join(format!("{id}.yaml"));
    assert!(
        stdout.contains(&format!("  Config: {}", path.display())),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\x1b'),
        "no colours when not on a terminal"
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let file = home.colony_yaml(&id);
    assert_eq!(file["colony_id"], id.as_str());
    assert_eq!(file["application"], "my-app");
    assert_eq!(file["environment"], "dev");
    assert_eq!(file["services"]["connect_port"], 9000);
    assert_eq!(file["wireguard"]["mesh_ipv4"], "10.42.0.1");
    assert_eq!(file["wireguard"]["mesh_ipv6"], "fd42::1");
    let private = file["wireguard"]["private_key"].as_str().unwrap();
    let public = file["wireguard"]["public_key"].as_str().unwrap();
    assert_eq!(
        coral_cli::keys::public_key_of(private).as_deref(),
        Some(public)
    );
    assert!(stdout.contains(public), "{stdout}");
    assert!(
        !stdout.contains(private),
        "the private key is never printed"
    );
    assert!(file["enrollment_token"].as_str().unwrap().len() >= 40);

    // -o json for scripts.
    let output = home
        .coral()
        .args(["init", "--app", "my-app", "--env", "prod", "-o", "json"])
        .output()
        .unwrap();
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        value["colonyId"]
            .as_str()
            .unwrap()
            .starts_with("my-app-prod-")
    );
    assert_eq!(value["wireguardPublicKey"].as_str().unwrap().len(), 44);
}

fn looks_like_a_generated_id(id: &str) -> bool {
    id.strip_prefix("my-app-dev-")
        .is_some_and(|s| s.len() == 6 && s.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn daemon_status_topology_and_stop() {
    let home = Home::new();
    let id = "shop-dev-a1b2c3";
    let port = free_port();
    home.init("shop", "dev", id, port);

    home.coral()
        .args(["colony", "start", "--daemon"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("✓ Colony started: {id}")))
        .stdout(predicate::str::contains(format!(
            "API: http://127.0.0.1:{port}"
        )));
    let pid_file = home.coral_home().join(format!("colonies/{id}.pid"));
    let pid = read_pid(&pid_file).expect("pid file");
    let log =
        std::fs::read_to_string(home.coral_home().join(format!("colonies/{id}.log"))).unwrap();
    assert!(log.contains("Colony started successfully"), "{log}");
    // The colony runs with the key `coral init` wrote, and announces itself
    // to the colony file's discovery endpoint.
    assert!(log.contains("Starting registration manager"), "{log}");
    let key_file = home
        .coral_home()
        .join(format!("colonies/{id}/wireguard.key"));
    let key = std::fs::read_to_string(&key_file).expect("the colony's key file");
    assert_eq!(
        key.trim(),
        home.colony_yaml(id)["wireguard"]["private_key"]
            .as_str()
            .unwrap()
    );

    // Starting it twice is refused.
    home.coral()
        .args(["colony", "start", "--daemon"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "colony {id} is already running (pid {pid})"
        )));
    home.coral()
        .args(["colony", "start"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already running"));

    home.coral()
        .args(["colony", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "Status:      running (pid {pid})"
        )))
        .stdout(predicate::str::contains("Health:      healthy"));
    home.coral()
        .args(["colony", "list"])
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(format!(
                r"\*\s+{id}\s+shop\s+dev\s+running\s+{port}\s+{pid}"
            ))
            .unwrap(),
        );

    // Nothing reported yet.
    home.coral()
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains("APPLICATION: shop (dev)"))
        .stdout(predicate::str::contains("Connected: 0 components"));
    home.coral()
        .arg("topology")
        .assert()
        .success()
        .stdout(predicate::str::contains("No traffic seen in the last 5m"));

    let token = home.colony_yaml(id)["enrollment_token"]
        .as_str()
        .unwrap()
        .to_owned();
    report_demo_traffic(&format!("http://127.0.0.1:{port}"), &token);

    // The status table.
    let status = stdout_of(&home.coral().arg("status").output().unwrap());
    assert!(
        status.starts_with("APPLICATION: shop (dev)\n━━━"),
        "{status}"
    );
    assert!(
        status.contains(&format!("Colony: {id} (running locally) · healthy")),
        "{status}"
    );
    assert!(
        status.contains("Agents: 2 connected (2 enrolled)"),
        "{status}"
    );
    assert!(
        status.contains("Seen in traffic (last 5m): 3 components"),
        "{status}"
    );
    for row in [
        r"api\s+shop\s+●  active\s+8080",
        r"database\s+shop\s+●  active\s+5432",
        r"frontend\s+shop\s+●  active\s+-",
        r"node-1\s+node-node-1\s+10\.42\.0\.\d+\s+connected\s+0\.1\.0",
    ] {
        assert!(regex_match(row, &status), "{row} in\n{status}");
    }
    let json: Value = serde_json::from_slice(
        &home
            .coral()
            .args(["status", "-o", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(json["colony"]["colonyId"], id);
    assert_eq!(json["colony"]["agents"], 2);
    assert_eq!(json["agents"].as_array().unwrap().len(), 2);
    let yaml = stdout_of(
        &home
            .coral()
            .args(["status", "-o", "yaml"])
            .output()
            .unwrap(),
    );
    let yaml: Value = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(yaml["colony"]["colonyId"], id);

    // The topology tree with rates.
    let tree = stdout_of(&home.coral().arg("topology").output().unwrap());
    assert!(
        tree.starts_with("SERVICE TOPOLOGY (last 5m)\n━━━"),
        "{tree}"
    );
    let frontend = tree.find("\nfrontend (shop)\n").expect("frontend first");
    let api = tree.find("\napi (shop)\n").expect("api block");
    assert!(frontend < api, "entry points first:\n{tree}");
    for line in [
        r"  → api:8080 \(shop\)\s+\[\d+(\.\d)? conn/min · [\d.]+ KiB/min · rtt 0\.2 ms\]",
        r"  → database:5432 \(shop\)\s+\[\d+(\.\d)? conn/min",
        r"  → 203\.0\.113\.9:443\s+\[\d+(\.\d)? conn/min",
        r"Detected Dependencies: 3",
        r"External Services: 1 \(203\.0\.113\.9\)",
    ] {
        assert!(regex_match(line, &tree), "{line} in\n{tree}");
    }
    let topology: Value = serde_json::from_slice(
        &home
            .coral()
            .args(["topology", "-o", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(topology["windowSeconds"], 300);
    assert_eq!(
        u64_of(&edge(&topology, "shop/frontend", "shop/api")["connections"]),
        30
    );
    assert_eq!(
        u64_of(&edge(&topology, "shop/api", "shop/database")["connections"]),
        12
    );
    assert_eq!(
        u64_of(&edge(&topology, "shop/api", "203.0.113.9")["connections"]),
        2
    );
    let internal: Value = serde_json::from_slice(
        &home
            .coral()
            .args(["topology", "-o", "json", "--no-external", "--window", "1h"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(internal["edges"].as_array().unwrap().len(), 2);

    // Exports.
    home.coral()
        .args(["topology", "--export", "dot"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("digraph coral {"))
        .stdout(predicate::str::contains(r#""shop/frontend" -> "shop/api""#));
    home.coral()
        .args(["topology", "--export", "mermaid"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("graph LR\n"));
    let file = home.dir.path().join("topology.dot");
    home.coral()
        .args(["topology", "--export"])
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains("✓ Topology written to"));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("shop/database")
    );

    // A second colony on the same port: "port already in use", with a hint.
    home.init("shop", "test", "shop-test-a1b2c3", port);
    home.coral()
        .args(["colony", "start", "shop-test-a1b2c3", "--daemon"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("address already in use"))
        .stderr(predicate::str::contains("--connect-port"))
        .stderr(predicate::str::contains("shop-test-a1b2c3.log"));
    assert!(
        !home
            .coral_home()
            .join("colonies/shop-test-a1b2c3.pid")
            .exists()
    );

    home.coral()
        .args(["colony", "stop", id])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "✓ Colony stopped: {id} (pid {pid})"
        )));
    assert!(wait_gone(pid, Duration::from_secs(5)));
    assert!(!pid_file.exists());
    home.coral()
        .args(["status", "--colony", id])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is not running"));

    // The data survives a restart (foreground this time).
    let mut child = home
        .coral_std()
        .args(["colony", "start", id, "--log-level", "warn"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.contains("Press Ctrl+C to stop") {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("Press Ctrl+C to stop")),
        "{seen:?}"
    );
    let topology: Value = serde_json::from_slice(
        &home
            .coral()
            .args(["topology", "-o", "json", "--colony", id])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        u64_of(&edge(&topology, "shop/frontend", "shop/api")["connections"]),
        30
    );
    home.coral().args(["colony", "stop", id]).assert().success();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "foreground colony exits 0 on SIGTERM: {status:?}"
    );
}

fn regex_match(pattern: &str, text: &str) -> bool {
    predicate::str::is_match(pattern).unwrap().eval(text)
}
