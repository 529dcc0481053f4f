//! The Helm chart on the local cluster, end to end:
//! - `helm install` into a fresh namespace; the operator Deployment becomes
//!   Ready. (kwok runs no containers: "Ready" here is the Deployment
//!   machinery and the chart's objects being accepted, not the image.)
//! - The real operator code (in this process, `coral_operator::run`) runs
//!   with the chart's ServiceAccount token, so with exactly the chart's RBAC,
//!   and leader election on (the chart's Role). A Colony from `examples/`
//!   becomes Ready and the node-agent DaemonSet it creates gets pods, which
//!   needs the chart's `coral-node-agent` ServiceAccount. A Reef with a
//!   public endpoint (Secret, Deployment, Service, Ingress) and a Connection
//!   selecting the colony's pod become Ready too.
//! - The operator's ServiceAccount is refused what it does not need.
//! - `helm upgrade` with a changed value rolls out a new ReplicaSet.
//! - `helm uninstall` removes every object of the release; the CRDs stay.

mod chart_support;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use chart_support::{chart_dir, command, run, workspace_root};
use coral_e2e::{client, kubeconfig_path, poll_until, unique_namespace};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde::Deserialize as _;

const TIMEOUT: Duration = Duration::from_secs(180);

/// Uninstalls the release and deletes the namespace even when the test fails.
struct Cleanup {
    release: String,
    namespace: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(mut helm) = command("helm") {
            let _ = helm
                .args(["uninstall", &self.release, "--namespace", &self.namespace])
                .args(["--ignore-not-found", "--wait", "--timeout", "60s"])
                .output();
        }
        if let Ok(mut kubectl) = command("kubectl") {
            let _ = kubectl
                .args(["delete", "namespace", &self.namespace, "--wait=false"])
                .output();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_colony_ready_upgrade_rolls_out_uninstall_keeps_crds() -> Result<()> {
    let client = client().await?;
    let namespace = unique_namespace(&client, "helm").await?;
    // Contains "coral", so the chart names objects "<release>-operator".
    let release = format!("coral-e2e-{}", std::process::id());
    let _cleanup = Cleanup {
        release: release.clone(),
        namespace: namespace.clone(),
    };
    let operator_name = format!("{release}-operator");

    // --- install
    let notes = run(command("helm")?
        .args(["install", &release])
        .arg(chart_dir())
        .args(["--namespace", &namespace, "--wait", "--timeout", "180s"]))?;
    assert!(
        notes.contains(&format!(
            "kubectl -n {namespace} rollout status deployment/{operator_name}"
        )),
        "NOTES do not tell the next command:\n{notes}"
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let installed = deployment_rolled_out(&deployments, &operator_name, 1).await?;
    let pod_spec = installed
        .spec
        .template
        .spec
        .clone()
        .context("no pod spec")?;
    assert_eq!(
        pod_spec.service_account_name.as_deref(),
        Some(operator_name.as_str())
    );
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in [
        "colonies.coral.io",
        "connections.coral.io",
        "reefs.coral.io",
    ] {
        crds.get(crd)
            .await
            .with_context(|| format!("CRD {crd} after helm install"))?;
    }

    // --- the operator, with the chart's RBAC, makes a Colony from examples/ Ready
    let token = run(command("kubectl")?.args([
        "create",
        "token",
        &operator_name,
        "--namespace",
        &namespace,
        "--duration=30m",
    ]))?;
    let operator_client = client_with_token(token.trim()).await?;
    // The in-process operator gets what the chart hands the real one.
    let env = |name: &str| {
        pod_spec.containers[0]
            .env
            .iter()
            .flatten()
            .find(|var| var.name == name)
            .and_then(|var| var.value.clone())
            .with_context(|| format!("the operator's env has no {name}"))
    };
    let node_agent =
        coral_operator::node_agent::NodeAgentSettings::parse(&env("CORAL_NODE_AGENT_SETTINGS")?)?;
    let owner_deployment = env("CORAL_OPERATOR_DEPLOYMENT")?;
    assert_eq!(owner_deployment, operator_name);
    refused_what_it_does_not_need(&namespace, &operator_name)?;
    node_agent_only_reads(&namespace)?;
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let operator = tokio::spawn(coral_operator::run(
        operator_client,
        coral_operator::OperatorConfig {
            namespace: namespace.clone(),
            node_agent,
            owner_deployment: Some(owner_deployment),
            // Same images as every other operator on the shared cluster, so
            // that none of them rewrites the others' children.
            ..Default::default()
        },
        "127.0.0.1:0".parse()?,
        true,
        coral_operator::run::shutdown_from(stopped),
    ));
    let result = async {
        colony_becomes_ready(&client, &namespace).await?;
        node_agent_follows_values_and_is_owned(&client, &namespace, &installed).await?;
        reef_and_connection_become_ready(&client, &namespace).await
    }
    .await;
    let _ = stop.send(());
    let stopped = tokio::time::timeout(Duration::from_secs(30), operator).await;
    result?;
    match stopped {
        Ok(Ok(Ok(()))) => {}
        other => bail!("the operator did not stop cleanly: {other:?}"),
    }

    // --- upgrade with a changed value rolls out a new ReplicaSet
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &namespace);
    let selector =
        format!("app.kubernetes.io/name=coral-operator,app.kubernetes.io/instance={release}");
    let before = replica_sets
        .list(&ListParams::default().labels(&selector))
        .await?;
    assert_eq!(before.items.len(), 1, "one ReplicaSet after install");
    run(command("helm")?
        .args(["upgrade", &release])
        .arg(chart_dir())
        .args([
            "--namespace",
            &namespace,
            "--reuse-values",
            "--set",
            "logging.format=text",
        ])
        .args(["--wait", "--timeout", "180s"]))?;
    let upgraded = deployment_rolled_out(&deployments, &operator_name, 1).await?;
    assert!(
        upgraded.metadata.generation > installed.metadata.generation,
        "the Deployment spec did not change"
    );
    let after = replica_sets
        .list(&ListParams::default().labels(&selector))
        .await?;
    assert_eq!(after.items.len(), 2, "a new ReplicaSet after the upgrade");
    let new = after
        .items
        .iter()
        .find(|rs| rs.metadata.uid != before.items[0].metadata.uid)
        .context("the new ReplicaSet")?;
    let args = new
        .spec
        .template
        .as_ref()
        .and_then(|t| t.spec.as_ref())
        .and_then(|s| s.containers[0].args.clone())
        .unwrap_or_default();
    assert!(
        args.contains(&"--log-json=false".to_string()),
        "new pod args: {args:?}"
    );
    poll_until("the old ReplicaSet scaled to 0", TIMEOUT, || async {
        let old = replica_sets
            .get(before.items[0].metadata.name.as_deref().unwrap_or_default())
            .await?;
        let replicas = old.spec.replicas;
        Ok(if replicas == Some(0) {
            Ok(())
        } else {
            Err(replicas)
        })
    })
    .await?;

    // --- uninstall removes every object of the release, not the CRDs
    let manifest =
        run(command("helm")?.args(["get", "manifest", &release, "--namespace", &namespace]))?;
    let objects = objects_of(&manifest)?;
    assert!(objects.len() >= 10, "release objects: {objects:?}");
    run(command("helm")?
        .args(["uninstall", &release, "--namespace", &namespace])
        .args(["--wait", "--timeout", "120s"]))?;
    for (kind, name) in &objects {
        let left = run(command("kubectl")?
            .args(["get", kind, name, "--namespace", &namespace])
            .args(["--ignore-not-found", "-o", "name"]))?;
        assert!(
            left.trim().is_empty(),
            "{kind} {name} survived helm uninstall"
        );
    }
    for crd in [
        "colonies.coral.io",
        "connections.coral.io",
        "reefs.coral.io",
    ] {
        crds.get(crd)
            .await
            .with_context(|| format!("CRD {crd} after helm uninstall"))?;
    }
    // The operator made them, but they belonged to the operator's Deployment.
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), &namespace);
    poll_until(
        "the node-agent DaemonSet garbage-collected after uninstall",
        TIMEOUT,
        || async {
            Ok(match daemon_sets.get_opt("coral-node-agent").await? {
                None => Ok(()),
                Some(left) => Err(left.metadata.owner_references),
            })
        },
    )
    .await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    poll_until(
        "the node-agent colonies Secret garbage-collected after uninstall",
        TIMEOUT,
        || async {
            Ok(match secrets.get_opt("coral-node-agent-colonies").await? {
                None => Ok(()),
                Some(left) => Err(left.metadata.owner_references),
            })
        },
    )
    .await?;
    Ok(())
}

/// The operator's DaemonSet carries the chart's `nodeAgent.*` defaults and
/// is owned by the operator's Deployment, as is its colonies Secret (which
/// the operator applied with the chart's RBAC before the DaemonSet).
async fn node_agent_follows_values_and_is_owned(
    client: &Client,
    namespace: &str,
    operator: &Deployment,
) -> Result<()> {
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    let daemon_set = poll_until("the node-agent DaemonSet", TIMEOUT, || async {
        Ok(daemon_sets.get_opt("coral-node-agent").await?.ok_or(()))
    })
    .await?;
    let owners = daemon_set.metadata.owner_references.unwrap_or_default();
    assert_eq!(owners.len(), 1, "owners: {owners:?}");
    assert_eq!(owners[0].kind, "Deployment");
    assert_eq!(Some(&owners[0].uid), operator.metadata.uid.as_ref());
    let colonies = Api::<Secret>::namespaced(client.clone(), namespace)
        .get("coral-node-agent-colonies")
        .await
        .context("the node-agent colonies Secret")?;
    let owners = colonies.metadata.owner_references.unwrap_or_default();
    assert_eq!(
        owners.first().map(|o| &o.uid),
        operator.metadata.uid.as_ref(),
        "owners: {owners:?}"
    );
    let pod = daemon_set.spec.template.spec.context("pod spec")?;
    let limits = pod.containers[0]
        .resources
        .clone()
        .and_then(|r| r.limits)
        .context("node-agent limits from values")?;
    assert_eq!(limits["memory"].0, "256Mi");
    assert_eq!(
        pod.tolerations.unwrap_or_default()[0].operator.as_deref(),
        Some("Exists")
    );
    Ok(())
}

async fn deployment_rolled_out(
    api: &Api<Deployment>,
    name: &str,
    replicas: i32,
) -> Result<Deployment> {
    poll_until(
        &format!("Deployment {name} rolled out and Ready"),
        TIMEOUT,
        || async {
            let deployment = api.get(name).await?;
            let status = deployment.status.clone().unwrap_or_default();
            let done = status.observed_generation == deployment.metadata.generation
                && status.updated_replicas == Some(replicas)
                && status.ready_replicas == Some(replicas)
                && status.available_replicas == Some(replicas)
                && status.replicas == Some(replicas);
            Ok(if done { Ok(deployment) } else { Err(status) })
        },
    )
    .await
}

/// A client for the local cluster that authenticates with `token` only.
async fn client_with_token(token: &str) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(kubeconfig_path())?;
    let mut config =
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    config.auth_info = AuthInfo {
        token: Some(token.to_string().into()),
        ..Default::default()
    };
    Ok(Client::try_from(config)?)
}

/// `kubectl auth can-i --as user args…`: whether the apiserver allows it.
fn can_i(user: &str, args: &[&str]) -> Result<bool> {
    let out = chart_support::outcome(
        command("kubectl")?
            .args(["auth", "can-i", "--as", user])
            .args(args),
    )?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "yes")
}

/// The node-agent reads what it attributes flows with and the Connections
/// that scope them per colony, cluster-wide, and writes nothing.
fn node_agent_only_reads(namespace: &str) -> Result<()> {
    let user = format!("system:serviceaccount:{namespace}:coral-node-agent");
    for allowed in [
        &["watch", "pods", "-A"][..],
        &["watch", "endpointslices.discovery.k8s.io", "-A"],
        &["watch", "connections.coral.io", "-A"],
    ] {
        assert!(
            can_i(&user, allowed)?,
            "{user} may not {allowed:?}, which the agent does"
        );
    }
    for refused in [
        &["get", "secrets", "-A"][..],
        &["patch", "connections.coral.io", "-A"],
    ] {
        assert!(
            !can_i(&user, refused)?,
            "{user} may {refused:?}, which the agent never does"
        );
    }
    Ok(())
}

/// Least privilege, checked from the apiserver's side (`kubectl auth can-i --as`).
fn refused_what_it_does_not_need(namespace: &str, service_account: &str) -> Result<()> {
    let user = format!("system:serviceaccount:{namespace}:{service_account}");
    let can = |args: &[&str]| can_i(&user, args);
    for allowed in [
        &["patch", "statefulsets.apps", "-n", "default"][..],
        &["create", "secrets", "-n", "default"],
        &[
            "patch",
            "colonies.coral.io",
            "--subresource=status",
            "-n",
            "default",
        ],
        &["create", "daemonsets.apps", "-n", namespace],
        &["patch", "daemonsets.apps/coral-node-agent", "-n", namespace],
        &[
            "delete",
            "secrets/coral-node-agent-colonies",
            "-n",
            namespace,
        ],
        &[
            "get",
            &format!("deployments.apps/{service_account}"),
            "-n",
            namespace,
        ],
        &[
            "update",
            "leases.coordination.k8s.io/coral-operator",
            "-n",
            namespace,
        ],
    ] {
        assert!(
            can(allowed)?,
            "{user} may not {allowed:?}, which the operator does"
        );
    }
    for refused in [
        &["delete", "pods", "-n", "default"][..],
        &["delete", "secrets", "-n", "default"],
        &["delete", "secrets/other", "-n", namespace],
        &["get", "nodes"],
        &["update", "customresourcedefinitions.apiextensions.k8s.io"],
        &["patch", "daemonsets.apps", "-n", "default"],
        &["patch", "daemonsets.apps/other", "-n", namespace],
        &[
            "update",
            "leases.coordination.k8s.io/other",
            "-n",
            namespace,
        ],
        &["patch", "colonies.coral.io", "-n", "default"],
        &["create", "clusterrolebindings.rbac.authorization.k8s.io"],
    ] {
        assert!(
            !can(refused)?,
            "{user} may {refused:?}, which the operator never does"
        );
    }
    Ok(())
}

async fn colony_becomes_ready(client: &Client, namespace: &str) -> Result<()> {
    let path = workspace_root().join("examples/demo/colony.yaml");
    let yaml =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut colony: DynamicObject = serde_yaml::from_str(&yaml)?;
    colony.metadata.namespace = Some(namespace.to_string());
    let name = colony
        .metadata
        .name
        .clone()
        .context("the example Colony has no name")?;
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("coral.io", "v1alpha1", "Colony"));
    let colonies: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    colonies.create(&PostParams::default(), &colony).await?;
    poll_until(&format!("Colony {name} Ready"), TIMEOUT, || async {
        let live = colonies.get(&name).await?;
        let conditions = live.data["status"]["conditions"].clone();
        let ready = conditions
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        Ok(if ready { Ok(()) } else { Err(conditions) })
    })
    .await?;

    // The operator's node-agent DaemonSet runs as the chart's ServiceAccount;
    // its pods are only admitted because that ServiceAccount exists.
    let daemon_sets: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    poll_until(
        "node-agent DaemonSet pods scheduled and Ready",
        TIMEOUT,
        || async {
            let Some(ds) = daemon_sets.get_opt("coral-node-agent").await? else {
                return Ok(Err("no DaemonSet yet".to_string()));
            };
            let account = ds
                .spec
                .template
                .spec
                .as_ref()
                .and_then(|s| s.service_account_name.clone());
            assert_eq!(account.as_deref(), Some("coral-node-agent"));
            let status = ds.status.unwrap_or_default();
            Ok(
                if status.desired_number_scheduled > 0
                    && status.number_ready == status.desired_number_scheduled
                {
                    Ok(())
                } else {
                    Err(format!("{status:?}"))
                },
            )
        },
    )
    .await
}

/// A Reef (its children cover the rest of the operator's write permissions)
/// and a Connection (pod reads, Connection status) reach Ready.
async fn reef_and_connection_become_ready(client: &Client, namespace: &str) -> Result<()> {
    let create = |kind: &str, body: serde_json::Value| {
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("coral.io", "v1alpha1", kind));
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        async move {
            let object: DynamicObject = serde_json::from_value(body)?;
            api.create(&PostParams::default(), &object).await?;
            anyhow::Ok(api)
        }
    };
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "clickhouse"},
        "stringData": {"url": "http://clickhouse:8123", "user": "coral", "password": "secret"}
    }))?;
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &secret)
        .await?;
    let reefs = create(
        "Reef",
        serde_json::json!({
            "apiVersion": "coral.io/v1alpha1", "kind": "Reef", "metadata": {"name": "global"},
            "spec": {"clickhouse": {"secretRef": {"name": "clickhouse"}},
                     "publicEndpoint": {"host": "reef.example.com"}}
        }),
    )
    .await?;
    let connections = create(
        "Connection",
        serde_json::json!({
            "apiVersion": "coral.io/v1alpha1", "kind": "Connection", "metadata": {"name": "colony"},
            "spec": {"colonyRef": {"name": "shop-demo"}, "component": "colony",
                     "selector": {"matchLabels": {"app.kubernetes.io/name": "coral-colony"}}}
        }),
    )
    .await?;
    for (api, name) in [(&reefs, "global"), (&connections, "colony")] {
        poll_until(&format!("{name} Ready"), TIMEOUT, || async {
            let conditions = api.get(name).await?.data["status"]["conditions"].clone();
            let ready = conditions
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            Ok(if ready { Ok(()) } else { Err(conditions) })
        })
        .await?;
    }
    let ingresses: Api<k8s_openapi::api::networking::v1::Ingress> =
        Api::namespaced(client.clone(), namespace);
    ingresses
        .get("global-reef")
        .await
        .context("the Reef's Ingress")?;
    Ok(())
}

/// (kind, name) of every object in a rendered manifest.
fn objects_of(manifest: &str) -> Result<Vec<(String, String)>> {
    let mut objects = Vec::new();
    for document in serde_yaml::Deserializer::from_str(manifest) {
        let value = serde_yaml::Value::deserialize(document)?;
        if value.is_null() {
            continue;
        }
        let kind = value["kind"].as_str().context("object without kind")?;
        let name = value["metadata"]["name"]
            .as_str()
            .context("object without name")?;
        objects.push((kind.to_string(), name.to_string()));
    }
    Ok(objects)
}
