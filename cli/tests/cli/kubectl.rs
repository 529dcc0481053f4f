//! `kubectl coral` against the local cluster (`cargo xtask cluster up`):
//! Colonies and Connections through the API, and a real colony's API
//! through the API server's service proxy. Fails, never skips, when the
//! cluster is down.

use std::time::Duration;

use assert_cmd::Command;
use coral_crds::{Colony, Connection};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use predicates::prelude::*;
use serde_json::{Value, json};

use crate::support::{Home, edge, free_port, report_demo_traffic, stdout_of, u64_of};

/// Stdout of a command that must succeed (its stderr shows when it fails).
fn succeeded(command: &mut Command) -> String {
    stdout_of(command.assert().success().get_output())
}

fn kubectl_coral(namespace: &str) -> Command {
    let mut command = Command::cargo_bin("kubectl-coral").unwrap();
    command
        .env("KUBECONFIG", coral_e2e::kubeconfig_path())
        .env("NO_COLOR", "1")
        .args(["-n", namespace])
        .timeout(Duration::from_secs(120));
    command
}

/// This machine's first global IPv4 address: the API server refuses to
/// proxy to loopback addresses.
fn host_ipv4() -> String {
    let output = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .expect("ip addr");
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .skip_while(|word| *word != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .expect("a global IPv4 address")
        .to_owned()
}

/// A pod on a fake node whose IP is this machine's: the API server proxies
/// a Service only to endpoint addresses of a pod with that IP.
async fn pod_at_host_ip(client: &Client, ns: &str, name: &str, ip: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"nodeName": "coral-node-1", "containers": [{"name": "colony", "image": "coral/colony:local"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    // kwok gives the pod an IP once (from the node's range); replace it after.
    coral_e2e::poll_until("the host pod running", Duration::from_secs(30), || {
        let pods = pods.clone();
        async move {
            let pod = pods.get(name).await?;
            let phase = pod.status.and_then(|s| s.phase).unwrap_or_default();
            anyhow::Ok(if phase == "Running" {
                Ok(())
            } else {
                Err(phase)
            })
        }
    })
    .await
    .unwrap();
    let status = json!({"status": {"podIP": ip, "podIPs": [{"ip": ip}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// A Service `<colony>-colony` whose endpoint is a colony running on this
/// machine (what the operator's Service is, with a real pod behind it).
async fn expose_local_colony(client: &Client, ns: &str, colony: &str, port: u16) {
    let name = format!("{colony}-colony");
    let ip = host_ipv4();
    let pod = format!("{name}-host");
    pod_at_host_ip(client, ns, &pod, &ip).await;
    let target = json!({"kind": "Pod", "name": pod, "namespace": ns});
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns},
        "spec": {"ports": [{"name": "connect", "port": 9000, "targetPort": port, "protocol": "TCP"}]}
    }))
    .unwrap();
    Api::<Service>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    let endpoints: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": ns},
        "subsets": [{"addresses": [{"ip": ip, "targetRef": target}], "ports": [{"name": "connect", "port": port, "protocol": "TCP"}]}]
    }))
    .unwrap();
    Api::<Endpoints>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &endpoints)
        .await
        .unwrap();
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"name": format!("{name}-local"), "namespace": ns,
                     "labels": {"kubernetes.io/service-name": name}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": true}, "targetRef": target}],
        "ports": [{"name": "connect", "port": port, "protocol": "TCP"}]
    }))
    .unwrap();
    Api::<EndpointSlice>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &slice)
        .await
        .unwrap();
}

async fn create_colony(client: &Client, ns: &str, name: &str) {
    let colony: Colony = serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Colony",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"application": "shop", "environment": "dev"}
    }))
    .unwrap();
    let api = Api::<Colony>::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), &colony).await.unwrap();
    // What the operator publishes once the colony runs.
    let status = json!({"status": {
        "endpoint": format!("{name}-colony.{ns}.svc:9000"),
        "agents": "2",
        "conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
                        "message": "colony is serving", "lastTransitionTime": "2025-10-29T20:50:00Z"}]
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_coral_on_the_local_cluster() {
    let client = coral_e2e::client().await.expect("local cluster");
    coral_e2e::install_crds(&client).await.unwrap();
    let ns = coral_e2e::unique_namespace(&client, "cli").await.unwrap();

    // No colony yet.
    kubectl_coral(&ns)
        .args(["colony", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "No Colonies in namespace {ns}"
        )));
    kubectl_coral(&ns)
        .args(["connect", "api", "--selector", "app=api", "--port", "8080"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "there is no Colony in namespace {ns}"
        )));
    kubectl_coral(&ns)
        .args([
            "connect",
            "api",
            "--selector",
            "app=api",
            "--port",
            "8080",
            "--colony",
            "shop",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "colony not found: shop in namespace {ns}"
        )));
    kubectl_coral(&ns)
        .arg("status")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("there is no Colony"));

    // A Colony whose colony runs on this machine behind its Service.
    let home = Home::new();
    let port = free_port();
    home.init("shop", "dev", "shop-dev-k8s001", port);
    home.coral()
        .args(["colony", "start", "--daemon"])
        .assert()
        .success();
    let token = home.colony_yaml("shop-dev-k8s001")["enrollment_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The agent helper blocks on its own runtime: keep it off this one.
    let url = format!("http://127.0.0.1:{port}");
    std::thread::spawn(move || report_demo_traffic(&url, &token))
        .join()
        .expect("demo traffic reported");
    create_colony(&client, &ns, "shop").await;

    // Status before the Service exists: the proxy cannot reach it.
    kubectl_coral(&ns)
        .arg("status")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot reach colony shop"))
        .stderr(predicate::str::contains("kubectl coral colony status shop"));
    expose_local_colony(&client, &ns, "shop", port).await;

    kubectl_coral(&ns)
        .args(["colony", "list"])
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(format!(
                r"shop\s+shop\s+dev\s+True\s+shop-colony\.{ns}\.svc:9000\s+2"
            ))
            .unwrap(),
        );
    let listed: Value = serde_json::from_slice(
        &kubectl_coral(&ns)
            .args(["colony", "list", "-o", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(listed[0]["metadata"]["name"], "shop");

    // connect creates the Connection (and is idempotent).
    for _ in 0..2 {
        kubectl_coral(&ns)
            .args([
                "connect",
                "api",
                "--selector",
                "app=api",
                "--port",
                "8080",
                "--protocol",
                "http",
            ])
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "✓ Connected: api (app=api, port 8080) → colony shop in namespace {ns}"
            )));
    }
    let connection = Api::<Connection>::namespaced(client.clone(), &ns)
        .get("api")
        .await
        .unwrap();
    assert_eq!(connection.spec.colony_ref.name, "shop");
    assert_eq!(connection.spec.component, "api");
    let labels = connection.spec.selector.unwrap().match_labels.unwrap();
    assert_eq!(labels.get("app").map(String::as_str), Some("api"));
    assert_eq!(connection.spec.ports[0].port, 8080);
    kubectl_coral(&ns)
        .args([
            "connect",
            "database",
            "--workload",
            "StatefulSet/database",
            "--port",
            "5432",
            "--colony",
            "shop",
        ])
        .assert()
        .success();
    kubectl_coral(&ns)
        .args(["connect", "bad", "--selector", "app"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("expected key=value"));
    kubectl_coral(&ns)
        .args(["connect", "api", "--port", "8080"])
        .assert()
        .code(2);

    kubectl_coral(&ns)
        .args(["colony", "status", "shop"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Colony: shop"))
        .stdout(predicate::str::contains(format!(
            "Endpoint:     shop-colony.{ns}.svc:9000"
        )))
        .stdout(predicate::str::is_match(r"Ready\s+True\s+Ready\s+colony is serving").unwrap())
        .stdout(predicate::str::is_match(r"api\s+Unknown\s+0\s+8080").unwrap())
        .stdout(predicate::str::is_match(r"database\s+Unknown\s+0\s+5432").unwrap());
    kubectl_coral(&ns)
        .args(["colony", "status", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("colony not found: nope"))
        .stderr(predicate::str::contains("Colonies in namespace"));

    // status and topology through the API server's service proxy.
    let status = succeeded(kubectl_coral(&ns).arg("status"));
    assert!(status.starts_with("APPLICATION: shop (dev)"), "{status}");
    assert!(
        status.contains(&format!("(in cluster, {ns}/shop) · healthy")),
        "{status}"
    );
    assert!(status.contains("Agents: 2 connected"), "{status}");
    let tree = succeeded(kubectl_coral(&ns).args(["topology", "--colony", "shop"]));
    assert!(
        tree.contains("frontend (shop)\n  → api:8080 (shop)"),
        "{tree}"
    );
    assert!(tree.contains("→ database:5432 (shop)"), "{tree}");
    let topology: Value = serde_json::from_str(&succeeded(
        kubectl_coral(&ns).args(["topology", "-o", "json"]),
    ))
    .unwrap();
    assert_eq!(
        u64_of(&edge(&topology, "shop/frontend", "shop/api")["connections"]),
        30
    );
    assert_eq!(
        u64_of(&edge(&topology, "shop/api", "shop/database")["connections"]),
        12
    );

    home.coral().args(["colony", "stop"]).assert().success();
    let _ = Api::<Namespace>::all(client.clone())
        .delete(&ns, &DeleteParams::default())
        .await;
}

#[test]
fn without_a_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("kubectl-coral")
        .unwrap()
        .env("KUBECONFIG", dir.path().join("missing"))
        .env("HOME", dir.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .args(["colony", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no usable kubeconfig"))
        .stderr(predicate::str::contains("KUBECONFIG"));
}
