//! `coral proxy` for real: coral-discovery on this host, the colony (with its
//! WireGuard hub) in a network namespace of its own, and the proxy joining
//! the mesh from the root namespace over a real tunnel. Needs root.

use std::process::Command as StdCommand;
use std::time::Duration;

use coral_e2e::{LinkedNetns, ServerProcess, poll_until, workspace_binary};
use predicates::prelude::*;
use serde_json::{Value, json};

use crate::support::{Home, free_port};

const ID: &str = "shop-dev-prx001";

async fn post(url: &str, body: &Value) -> Result<(u16, Value), reqwest::Error> {
    let response = reqwest::Client::new()
        .post(url)
        .timeout(Duration::from_secs(5))
        .json(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_reaches_the_colony_through_its_mesh() {
    let home = Home::new();
    home.init("shop", "dev", ID, free_port());
    let colony_yaml = home.colony_yaml(ID);
    let token = colony_yaml["enrollment_token"].as_str().unwrap().to_owned();
    let key_file = home.coral_home().join("colony.key");
    let private_key = colony_yaml["wireguard"]["private_key"].as_str().unwrap();
    std::fs::write(&key_file, format!("{private_key}\n")).unwrap();

    // Discovery on this host, where the colony's namespace reaches it.
    let netns = LinkedNetns::create("proxy").expect("network namespace (needs root)");
    let discovery_port = free_port();
    let mut command = StdCommand::new(workspace_binary("coral-discovery"));
    command.args(["--port", &discovery_port.to_string(), "--log-level", "info"]);
    let _discovery = ServerProcess::spawn(command, "Discovery service listening");
    let for_colony = format!("http://{}:{discovery_port}", netns.host_addr);
    let for_proxy = format!("http://127.0.0.1:{discovery_port}");

    let connect_port = free_port();
    let data = tempfile::tempdir().unwrap();
    let mut command = netns.command(workspace_binary("coral-colony"));
    command
        .args([
            "--colony-id",
            ID,
            "--application",
            "shop",
            "--environment",
            "dev",
        ])
        // One argument: the token may start with '-'.
        .arg(format!("--enrollment-token={token}"))
        .args(["--log-format", "json"])
        .arg("--wireguard-key-file")
        .arg(&key_file)
        .arg("--data-dir")
        .arg(data.path())
        .args(["--connect-port", &connect_port.to_string()])
        .args(["--bind", &netns.ns_addr.to_string()])
        .args([
            "--mesh-ipv4-cidr",
            &format!("10.{}.0.0/16", std::process::id() % 40 + 160),
        ])
        .args(["--discovery-endpoint", &for_colony]);
    let mut colony = ServerProcess::spawn(command, "Colony listening");
    colony.listening_addr();
    let lookup = format!("{for_proxy}/coral.discovery.v1.DiscoveryService/LookupColony");
    poll_until("the colony registered", Duration::from_secs(30), || async {
        let seen = post(&lookup, &json!({"meshId": ID})).await;
        anyhow::Ok(match seen {
            Ok((200, body)) => Ok(body),
            other => Err(format!("{other:?}")),
        })
    })
    .await
    .unwrap();

    // The proxy: foreground, stopped by `coral proxy stop`.
    let listen_port = free_port();
    let mut command = home.coral_std();
    command
        .args(["proxy", "start", ID])
        .args(["--listen", &format!("127.0.0.1:{listen_port}")])
        .args(["--discovery", &for_proxy])
        .args([
            "--colony-endpoint",
            &format!("http://{}:{connect_port}", netns.ns_addr),
        ])
        .env(
            "CORAL_PROXY_INTERFACE",
            format!("cpx{}", std::process::id() % 100_000),
        );
    let proxy = ServerProcess::spawn(command, "never logged");
    let status_url =
        format!("http://127.0.0.1:{listen_port}/coral.colony.v1.ColonyService/GetStatus");
    let status = poll_until(
        "GetStatus through the proxy",
        Duration::from_secs(60),
        || async {
            let seen = post(&status_url, &json!({})).await;
            anyhow::Ok(match seen {
                Ok((200, body)) => Ok(body),
                other => Err(format!("{other:?}; proxy logs: {:?}", proxy.logs())),
            })
        },
    )
    .await
    .unwrap();
    assert_eq!(status["colonyId"], ID, "{status}");
    let logs = proxy.logs().join("\n");
    for line in [
        "Starting coral proxy",
        "Looking up colony in discovery service",
        "\"message\":\"Colony found\",\"mesh_ipv4\"",
        "\"mesh_ipv6\":\"fd42::1\"",
        "Proxy server started",
    ] {
        assert!(logs.contains(line), "{line}: {logs}");
    }

    home.coral()
        .args(["proxy", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(ID))
        .stdout(predicate::str::contains(format!("127.0.0.1:{listen_port}")));
    home.coral()
        .args(["proxy", "stop", ID])
        .assert()
        .success()
        .stdout(predicate::str::contains("✓ Proxy stopped"));
    home.coral()
        .args(["proxy", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("No proxy running"));
    home.coral()
        .args(["proxy", "stop", ID])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no proxy is running"));
}

#[test]
fn proxy_errors_say_what_to_do() {
    let home = Home::new();
    home.init("shop", "dev", ID, free_port());
    let unused = free_port();
    home.coral()
        .args(["proxy", "start", ID])
        .args(["--discovery", &format!("http://127.0.0.1:{unused}")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cannot reach the discovery service",
        ))
        .stderr(predicate::str::contains("--discovery"));
    home.coral()
        .args(["proxy", "start", "nope-dev-000000"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(ID));
}
