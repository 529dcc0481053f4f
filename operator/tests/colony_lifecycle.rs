//! Colony and Connection against the local cluster with the operator binary:
//! children with owner references, Ready from child readiness, the key
//! Secret surviving restarts, zero writes on a resync, the node-agent
//! DaemonSet and its colonies file following the Colonies (an overlapping
//! mesh network left out with an Event), Connection conditions, and cleanup.
//! Needs `cargo xtask cluster up`; fails when the cluster is not reachable.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use coral_config::{AgentColoniesFile, AgentColony};
use coral_crds::{Colony, Connection};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, PersistentVolume, Secret, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

fn ready_status(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> Option<(String, String)> {
    conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// kwok has no volume provisioner: a PersistentVolume pre-bound to the
/// claim the StatefulSet will make.
async fn volume_for(client: &Client, namespace: &str, claim: &str) -> Result<String> {
    let name = format!("{namespace}-{claim}");
    let pv: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"coral.io/test": "operator-e2e"}},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": format!("/tmp/coral-e2e/{name}")},
            "claimRef": {"namespace": namespace, "name": claim}
        }
    }))?;
    Api::<PersistentVolume>::all(client.clone())
        .create(&PostParams::default(), &pv)
        .await?;
    Ok(name)
}

#[tokio::test]
async fn colony_lifecycle_with_operator() -> Result<()> {
    let client = support::client().await?;
    support::install_crds(&client).await?;
    let _one_operator = support::operator_lock().lock().await;
    let namespace = support::namespace(&client, "colony-e2e").await?;
    let agent_namespace = support::namespace(&client, "coral-system-e2e").await?;
    let pv = volume_for(&client, &namespace, "data-shop-colony-0").await?;
    let result = scenario(&client, &namespace, &agent_namespace).await;
    support::delete_namespace(&client, &namespace).await;
    support::delete_namespace(&client, &agent_namespace).await;
    let _ = Api::<PersistentVolume>::all(client.clone())
        .delete(&pv, &DeleteParams::default())
        .await;
    result
}

async fn scenario(client: &Client, namespace: &str, agent_namespace: &str) -> Result<()> {
    let colonies: Api<Colony> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let connections: Api<Connection> = Api::namespaced(client.clone(), namespace);
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), agent_namespace);
    let agent_secrets: Api<Secret> = Api::namespaced(client.clone(), agent_namespace);

    let operator = support::Operator::start(agent_namespace)?;

    // A Connection before its Colony exists: a condition, not an error loop.
    let connection: Connection = serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Connection",
        "metadata": {"name": "api"},
        "spec": {"colonyRef": {"name": "shop"}, "component": "api", "selector": {"matchLabels": {"app": "api"}}}
    }))?;
    connections
        .create(&PostParams::default(), &connection)
        .await?;
    wait_connection_reason(&connections, "api", "ColonyNotFound").await?;

    // Create: only the two required fields.
    let colony: Colony = serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Colony",
        "metadata": {"name": "shop"}, "spec": {"application": "shop", "environment": "e2e"}
    }))?;
    colonies.create(&PostParams::default(), &colony).await?;
    let ready = support::eventually(Duration::from_secs(120), "Colony shop Ready=True", || {
        let colonies = colonies.clone();
        async move {
            let colony = colonies.get("shop").await?;
            let status = colony.status.clone().unwrap_or_default();
            Ok(
                (ready_status(&status.conditions).map(|(s, _)| s).as_deref() == Some("True"))
                    .then_some(colony),
            )
        }
    })
    .await?;
    let uid = ready.uid().context("colony uid")?;
    let status = ready.status.clone().unwrap_or_default();
    ensure!(
        status.agents.as_deref() == Some("Unknown"),
        "agents must be Unknown until the colony API answers: {status:?}"
    );
    ensure!(
        status.mesh_ipv4.as_deref() == Some("10.42.0.1"),
        "meshIPv4: {status:?}"
    );
    ensure!(
        status.endpoint.as_deref() == Some(&*format!("shop-colony.{namespace}.svc:9000")),
        "endpoint: {status:?}"
    );

    // Children exist and are owned by the Colony.
    let secret = secrets.get("shop-colony-keys").await?;
    let config_map = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get("shop-colony-config")
        .await?;
    let service = services.get("shop-colony").await?;
    let sts = stateful_sets.get("shop-colony").await?;
    for (kind, owners) in [
        ("Secret", secret.owner_references()),
        ("ConfigMap", config_map.owner_references()),
        ("Service", service.owner_references()),
        ("StatefulSet", sts.owner_references()),
    ] {
        ensure!(
            owners
                .iter()
                .any(|o| o.uid == uid && o.controller == Some(true)),
            "{kind} is not owned by the Colony: {owners:?}"
        );
    }
    let public_key = String::from_utf8(
        secret.data.clone().unwrap_or_default()["publicKey"]
            .0
            .clone(),
    )?;
    ensure!(
        status.mesh_public_key.as_deref() == Some(public_key.as_str()),
        "status.meshPublicKey differs from the Secret"
    );
    let ports: Vec<(i32, String)> = service
        .spec
        .clone()
        .unwrap_or_default()
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.port, p.protocol.unwrap_or_default()))
        .collect();
    ensure!(
        ports
            == vec![
                (9000, "TCP".into()),
                (41580, "UDP".into()),
                (3000, "TCP".into())
            ],
        "service ports {ports:?}"
    );

    // The node-agent DaemonSet exists while a Colony does.
    support::eventually(
        Duration::from_secs(30),
        "node-agent DaemonSet created",
        || {
            let daemon_sets = daemon_sets.clone();
            async move { Ok(daemon_sets.get_opt("coral-node-agent").await?.map(|_| ())) }
        },
    )
    .await?;

    // The agents' colonies file lists the Colony: its Service's ClusterIP
    // (agents need no cluster DNS), its enrollment token and mesh network.
    let key = format!("{namespace}/shop");
    let cluster_ip = service
        .spec
        .clone()
        .unwrap_or_default()
        .cluster_ip
        .context("the colony Service has no ClusterIP")?;
    let token = String::from_utf8(
        secret.data.clone().unwrap_or_default()["enrollmentToken"]
            .0
            .clone(),
    )?;
    let expected = AgentColony {
        colony: key.clone(),
        endpoint: format!("http://{cluster_ip}:9000"),
        enrollment_token: token,
        mesh_ipv4_cidr: "10.42.0.0/16".into(),
    };
    let others = other_colonies(client, namespace).await?;
    if others.is_empty() {
        let listed = wait_colonies_file(
            &agent_secrets,
            "the colonies file lists Colony shop",
            |file| file.colonies.iter().any(|c| c.colony == key),
        )
        .await?;
        ensure!(
            listed.colonies == vec![expected.clone()],
            "colonies file: {listed:?}"
        );

        // A second Colony with the same (default) mesh network is left out,
        // with a Warning Event on it naming the older one. Its claim would
        // bind no volume: a StorageClass that does not exist.
        let overlapping: Colony = serde_json::from_value(json!({
            "apiVersion": "coral.io/v1alpha1", "kind": "Colony",
            "metadata": {"name": "shop-copy"},
            "spec": {"application": "shop", "environment": "copy",
                     "storage": {"duckdb": {"storageClassName": "coral-e2e-none"}}}
        }))?;
        colonies
            .create(&PostParams::default(), &overlapping)
            .await?;
        let events: Api<Event> = Api::namespaced(client.clone(), namespace);
        let event = support::eventually(
            Duration::from_secs(30),
            "a Warning Event MeshCIDROverlap on Colony shop-copy",
            || {
                let events = events.clone();
                async move {
                    let list = events
                        .list(&ListParams::default().fields("involvedObject.name=shop-copy"))
                        .await?;
                    Ok(list
                        .items
                        .into_iter()
                        .find(|e| e.reason.as_deref() == Some("MeshCIDROverlap")))
                }
            },
        )
        .await?;
        let note = event.message.unwrap_or_default();
        ensure!(
            event.type_.as_deref() == Some("Warning")
                && note.contains(&format!("Colony {key}"))
                && note.contains("spec.mesh.ipv4CIDR"),
            "the Event does not say what collides and what to change: {note}"
        );
        // The copy's keys and Service exist by now; it stays out of the file.
        support::eventually(
            Duration::from_secs(30),
            "Colony shop-copy's keys and Service",
            || {
                let (secrets, services) = (secrets.clone(), services.clone());
                async move {
                    let both = secrets.get_opt("shop-copy-colony-keys").await?.is_some()
                        && services.get_opt("shop-copy-colony").await?.is_some();
                    Ok(both.then_some(()))
                }
            },
        )
        .await?;
        let file = read_colonies_file(&agent_secrets)
            .await?
            .context("the colonies Secret is gone")?;
        ensure!(
            file.colonies == vec![expected.clone()],
            "the overlapping Colony reached the colonies file: {file:?}"
        );
        colonies
            .delete("shop-copy", &DeleteParams::default())
            .await?;
        support::eventually(Duration::from_secs(30), "Colony shop-copy deleted", || {
            let colonies = colonies.clone();
            async move { Ok(colonies.get_opt("shop-copy").await?.is_none().then_some(())) }
        })
        .await?;
    } else {
        // An older one among them may hold the same mesh network.
        eprintln!(
            "other Colonies exist in the cluster ({others:?}); only checking that the colonies file parses"
        );
        wait_colonies_file(&agent_secrets, "the colonies file", |_| true).await?;
    }

    // Connection: the colony now exists, no pods match yet.
    wait_connection_reason(&connections, "api", "NoMatchingPods").await?;
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "api"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}},
                 "template": {"metadata": {"labels": {"app": "api"}},
                              "spec": {"containers": [{"name": "api", "image": "example/api:1"}]}}}
    }))?;
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &deployment)
        .await?;
    let resolved = support::eventually(
        Duration::from_secs(60),
        "Connection api resolves 2 pods",
        || {
            let connections = connections.clone();
            async move {
                let status = connections.get("api").await?.status.unwrap_or_default();
                Ok((status.matched_pods == 2).then_some(status))
            }
        },
    )
    .await?;
    ensure!(
        resolved.workloads == vec!["Deployment/api".to_string()],
        "workloads {:?}",
        resolved.workloads
    );
    ensure!(
        ready_status(&resolved.conditions) == Some(("True".into(), "Resolved".into())),
        "{:?}",
        resolved.conditions
    );

    // Restart: the key Secret is unchanged and a fresh operator's full resync writes nothing.
    operator.stop()?;
    let secret_before = secrets.get("shop-colony-keys").await?;
    let operator = support::Operator::start(agent_namespace)?;
    support::eventually(
        Duration::from_secs(30),
        "restarted operator reconciled both kinds",
        || {
            let operator = &operator;
            async move {
                let done = operator.reconciles("colony").await? >= 1
                    && operator.reconciles("connection").await? >= 1;
                Ok(done.then_some(()))
            }
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let writes = operator.writes().await?;
    ensure!(
        writes == 0,
        "a resync of an unchanged world made {writes} writes"
    );
    let secret_after = secrets.get("shop-colony-keys").await?;
    ensure!(
        secret_before.data == secret_after.data,
        "the key Secret changed across an operator restart"
    );
    ensure!(
        secret_before.resource_version() == secret_after.resource_version(),
        "the key Secret was rewritten"
    );

    // Update: disabling the dashboard drops its Service port.
    colonies
        .patch(
            "shop",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"dashboard": {"enabled": false}}})),
        )
        .await?;
    support::eventually(Duration::from_secs(30), "dashboard port removed", || {
        let services = services.clone();
        async move {
            let ports = services
                .get("shop-colony")
                .await?
                .spec
                .unwrap_or_default()
                .ports
                .unwrap_or_default();
            Ok((ports.len() == 2).then_some(()))
        }
    })
    .await?;

    // Delete: children are garbage-collected, the DaemonSet goes with the last Colony,
    // and the Connection reports the missing Colony.
    colonies.delete("shop", &DeleteParams::foreground()).await?;
    support::eventually(
        Duration::from_secs(60),
        "children garbage-collected",
        || {
            let (secrets, services, stateful_sets) =
                (secrets.clone(), services.clone(), stateful_sets.clone());
            async move {
                let gone = secrets.get_opt("shop-colony-keys").await?.is_none()
                    && services.get_opt("shop-colony").await?.is_none()
                    && stateful_sets.get_opt("shop-colony").await?.is_none();
                Ok(gone.then_some(()))
            }
        },
    )
    .await?;
    if other_colonies_exist(client).await? {
        eprintln!(
            "other Colonies exist in the cluster; not checking the removal of the node-agent DaemonSet and colonies Secret"
        );
    } else {
        support::eventually(
            Duration::from_secs(30),
            "node-agent DaemonSet and colonies Secret removed",
            || {
                let (daemon_sets, agent_secrets) = (daemon_sets.clone(), agent_secrets.clone());
                async move {
                    let gone = daemon_sets.get_opt("coral-node-agent").await?.is_none()
                        && agent_secrets
                            .get_opt("coral-node-agent-colonies")
                            .await?
                            .is_none();
                    Ok(gone.then_some(()))
                }
            },
        )
        .await?;
    }
    wait_connection_reason(&connections, "api", "ColonyNotFound").await?;
    operator.stop()?;
    Ok(())
}

async fn other_colonies_exist(client: &Client) -> Result<bool> {
    Ok(!Api::<Colony>::all(client.clone())
        .list(&Default::default())
        .await?
        .items
        .is_empty())
}

/// `namespace/name` of the Colonies outside `namespace`.
async fn other_colonies(client: &Client, namespace: &str) -> Result<Vec<String>> {
    Ok(Api::<Colony>::all(client.clone())
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|c| c.namespace().as_deref() != Some(namespace))
        .map(|c| format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any()))
        .collect())
}

/// The node-agents' colonies file from its Secret, checked as the agent
/// checks it; None while the Secret does not exist.
async fn read_colonies_file(secrets: &Api<Secret>) -> Result<Option<AgentColoniesFile>> {
    let Some(secret) = secrets.get_opt("coral-node-agent-colonies").await? else {
        return Ok(None);
    };
    let data = secret.data.unwrap_or_default();
    let bytes = data
        .get("colonies.yaml")
        .context("the colonies Secret has no colonies.yaml")?;
    let text = String::from_utf8(bytes.0.clone())?;
    let file = AgentColoniesFile::parse(&text).map_err(anyhow::Error::msg)?;
    Ok(Some(file))
}

async fn wait_colonies_file(
    secrets: &Api<Secret>,
    what: &str,
    done: impl Fn(&AgentColoniesFile) -> bool,
) -> Result<AgentColoniesFile> {
    support::eventually(Duration::from_secs(30), what, || async {
        Ok(read_colonies_file(secrets).await?.filter(|file| done(file)))
    })
    .await
}

async fn wait_connection_reason(api: &Api<Connection>, name: &str, reason: &str) -> Result<()> {
    let found = support::eventually(
        Duration::from_secs(30),
        &format!("Connection {name} reason {reason}"),
        || {
            let api = api.clone();
            async move {
                let status = api.get(name).await?.status.unwrap_or_default();
                Ok(ready_status(&status.conditions).filter(|(_, r)| r == reason))
            }
        },
    )
    .await?;
    if found.0 != "False" && reason != "Resolved" {
        bail!("Ready should be False with reason {reason}, got {found:?}");
    }
    Ok(())
}
