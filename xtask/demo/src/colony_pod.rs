//! The colony pod, run for real. The operator made a ConfigMap
//! (`colony.yaml`) and a Secret (WireGuard key, enrollment token) for the
//! Colony; here the real `coral-colony` binary runs with exactly those, in a
//! network namespace of its own (its WireGuard hub needs one apart from the
//! node-agent's). The pod's status then gets that namespace's address, so
//! the Service the operator made, and the API server's service proxy that
//! `kubectl coral` goes through, reach this process. With no kube-proxy on
//! the local cluster, the Service's ClusterIP is put on the namespace too, so
//! node-agents enroll at the address the operator hands them.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use coral_e2e::{LinkedNetns, ServerProcess, poll_until};
use coral_operator::colony::config_file::CONFIG_KEY;
use coral_operator::{keys, labels};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::apiserver_relay::ApiServerRelay;

/// How long the operator may take to make the colony's children.
const CHILDREN_TIMEOUT: Duration = Duration::from_secs(60);

pub struct ColonyPod {
    process: ServerProcess,
    // Dropped after the process (fields drop in order).
    _api_server: ApiServerRelay,
    _netns: LinkedNetns,
    /// The connect port at the pod's address, as the test reaches it.
    pub addr: SocketAddr,
}

impl ColonyPod {
    /// Start `coral-colony` (the binary at `binary`) for the Colony
    /// `namespace/name`, keeping its files under `dir`. Its component
    /// inventory reaches the API server of `kubeconfig`.
    pub async fn start(
        client: &Client,
        namespace: &str,
        name: &str,
        binary: &Path,
        kubeconfig: &Path,
        dir: &Path,
    ) -> Result<ColonyPod> {
        let (config, secret, cluster_ip) = children(client, namespace, name).await?;
        let files = ColonyFiles::write(dir, &config, &secret)?;
        let netns = LinkedNetns::create("colony")?;
        netns.add_address(cluster_ip)?;
        let api_server = ApiServerRelay::start(&netns.name, kubeconfig)?;
        let mut command = netns.command(binary);
        command
            .env("KUBECONFIG", kubeconfig)
            .arg("--config")
            .arg(&files.config)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--enrollment-token-file")
            .arg(&files.token)
            .arg("--wireguard-key-file")
            .arg(&files.private_key)
            // The pod IP and the ClusterIP.
            .args(["--bind", "0.0.0.0"])
            .args(["--log-format", "json"]);
        let mut process = ServerProcess::spawn(command, "Colony listening");
        let addr = SocketAddr::new(IpAddr::V4(netns.ns_addr), process.listening_port());
        let pod = ColonyPod {
            process,
            addr,
            _api_server: api_server,
            _netns: netns,
        };
        pod.publish_address(client, namespace, name).await?;
        Ok(pod)
    }

    /// `http://address:port` of the connect port.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn logs(&self) -> Vec<String> {
        self.process.logs()
    }

    /// Give the colony's pods this namespace's address and wait until the
    /// Service's EndpointSlice lists it.
    async fn publish_address(&self, client: &Client, namespace: &str, name: &str) -> Result<()> {
        let ip = self.addr.ip().to_string();
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let selector = selector(&labels::colony_selector_labels(name));
        let listed = pods.list(&ListParams::default().labels(&selector)).await?;
        if listed.items.is_empty() {
            bail!(
                "the Colony {namespace}/{name} has no pod ({selector}); is the operator running?"
            );
        }
        let status = json!({"status": {"podIP": ip, "podIPs": [{"ip": ip}]}});
        for pod in &listed.items {
            pods.patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&status),
            )
            .await
            .with_context(|| format!("setting the IP of pod {}", pod.name_any()))?;
        }
        let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
        let service = labels::colony_workload_name(name);
        let by_service =
            ListParams::default().labels(&format!("kubernetes.io/service-name={service}"));
        poll_until(
            &format!("Service {service} to list the colony at {ip}"),
            CHILDREN_TIMEOUT,
            || {
                let (slices, by_service, ip) = (slices.clone(), by_service.clone(), ip.clone());
                async move {
                    let listed = slices.list(&by_service).await?;
                    let found = listed
                        .items
                        .iter()
                        .flat_map(|slice| slice.endpoints.iter().flatten())
                        .any(|endpoint| endpoint.addresses.contains(&ip));
                    anyhow::Ok(if found { Ok(()) } else { Err("not yet") })
                }
            },
        )
        .await
    }
}

/// The colony's ConfigMap, Secret and Service ClusterIP, once the operator
/// has made them.
async fn children(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<(ConfigMap, Secret, Ipv4Addr)> {
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let (config_name, keys_name, service_name) = (
        labels::colony_config_name(name),
        labels::colony_keys_name(name),
        labels::colony_workload_name(name),
    );
    let what = format!(
        "the operator to make ConfigMap {config_name}, Secret {keys_name} and Service {service_name}"
    );
    poll_until(&what, CHILDREN_TIMEOUT, || {
        let (config_maps, secrets, services) =
            (config_maps.clone(), secrets.clone(), services.clone());
        let (config_name, keys_name, service_name) =
            (config_name.clone(), keys_name.clone(), service_name.clone());
        async move {
            let config = config_maps.get_opt(&config_name).await?;
            let secret = secrets.get_opt(&keys_name).await?;
            let cluster_ip = services
                .get_opt(&service_name)
                .await?
                .and_then(|service| service.spec?.cluster_ip?.parse::<Ipv4Addr>().ok());
            anyhow::Ok(match (config, secret, cluster_ip) {
                (Some(config), Some(secret), Some(ip)) => Ok((config, secret, ip)),
                _ => Err("not yet"),
            })
        }
    })
    .await
}

/// What the pod would have mounted, as files.
struct ColonyFiles {
    config: PathBuf,
    token: PathBuf,
    private_key: PathBuf,
}

impl ColonyFiles {
    fn write(dir: &Path, config: &ConfigMap, secret: &Secret) -> Result<ColonyFiles> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let text = config
            .data
            .as_ref()
            .and_then(|data| data.get(CONFIG_KEY))
            .ok_or_else(|| anyhow!("ConfigMap {} has no {CONFIG_KEY}", config.name_any()))?;
        let secret_value = |key: &str| {
            secret
                .data
                .as_ref()
                .and_then(|data| data.get(key))
                .map(|bytes| bytes.0.clone())
                .ok_or_else(|| anyhow!("Secret {} has no {key}", secret.name_any()))
        };
        let files = ColonyFiles {
            config: dir.join(CONFIG_KEY),
            token: dir.join("enrollment-token"),
            private_key: dir.join("wireguard.key"),
        };
        write_private(&files.config, text.as_bytes())?;
        write_private(&files.token, &secret_value(keys::ENROLLMENT_TOKEN)?)?;
        write_private(&files.private_key, &secret_value(keys::PRIVATE_KEY)?)?;
        Ok(files)
    }
}

fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents)?;
    Ok(())
}

/// `k=v,k=v` from labels.
pub fn selector(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}
