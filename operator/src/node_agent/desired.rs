//! The desired node-agent children: the colonies Secret and the DaemonSet.
//! Pure: unit-tested without a cluster.

use std::collections::BTreeMap;

use coral_config::AgentColoniesFile;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PodSpec, PodTemplateSpec, Secret, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::{NodeAgentSettings, colonies};
use crate::context::OperatorConfig;
use crate::labels::{self, NODE_AGENT_NAME};
use crate::pod_spec::{
    container_port, env_from_field, env_value, host_path_volume, http_probe, locked_down,
    match_labels, mount, only_capabilities, secret_volume,
};

/// Linux capabilities the agent needs instead of `privileged`: loading eBPF
/// programs (BPF, PERFMON), raising memlock for maps (SYS_RESOURCE), the
/// WireGuard device (NET_ADMIN), and reading other processes' network
/// namespaces for pod attribution (SYS_PTRACE).
pub const CAPABILITIES: [&str; 5] = ["BPF", "PERFMON", "NET_ADMIN", "SYS_RESOURCE", "SYS_PTRACE"];

/// The agent's `--state-dir` default, kept on the node.
pub const STATE_DIR: &str = "/var/lib/coral-node-agent";

/// Everything the node-agents need while any Colony exists, in the
/// operator's namespace.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeAgentChildren {
    /// `colonies.yaml`, which the DaemonSet's pods mount.
    pub colonies_secret: Secret,
    pub daemon_set: DaemonSet,
}

/// The colonies Secret holding `file` and the DaemonSet. `owner` is the
/// operator's own Deployment, so that uninstalling the operator
/// garbage-collects both.
pub fn build(
    config: &OperatorConfig,
    file: &AgentColoniesFile,
    owner: Option<OwnerReference>,
) -> NodeAgentChildren {
    NodeAgentChildren {
        colonies_secret: colonies::secret(&config.namespace, file, owner.clone()),
        daemon_set: daemon_set(config, owner),
    }
}

/// Desired DaemonSet. `owner` is the operator's own Deployment, so that
/// uninstalling the operator garbage-collects the DaemonSet too.
pub fn daemon_set(config: &OperatorConfig, owner: Option<OwnerReference>) -> DaemonSet {
    let settings = &config.node_agent;
    // User labels first, so they can never replace the selector's.
    let mut pod_labels = settings.pod_labels.clone();
    pod_labels.extend(labels::node_agent_labels());
    DaemonSet {
        metadata: ObjectMeta {
            name: Some(NODE_AGENT_NAME.into()),
            namespace: Some(config.namespace.clone()),
            labels: Some(labels::node_agent_labels()),
            owner_references: owner.map(|owner| vec![owner]),
            ..Default::default()
        },
        spec: DaemonSetSpec {
            selector: match_labels(labels::node_agent_selector_labels()),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: non_empty(&settings.pod_annotations),
                    ..Default::default()
                }),
                spec: Some(pod_spec(config)),
            },
            ..Default::default()
        },
        status: None,
    }
}

/// The agent pod: host PIDs, the node paths it needs, and the scheduling
/// settings of `--node-agent-settings`.
fn pod_spec(config: &OperatorConfig) -> PodSpec {
    let settings = &config.node_agent;
    PodSpec {
        service_account_name: Some(NODE_AGENT_NAME.into()),
        // Host PIDs map sockets to pods through /proc.
        host_pid: Some(true),
        containers: vec![container(config)],
        volumes: Some(volumes()),
        tolerations: (!settings.tolerations.is_empty()).then(|| settings.tolerations.clone()),
        node_selector: non_empty(&settings.node_selector),
        priority_class_name: settings
            .priority_class_name
            .clone()
            .filter(|name| !name.is_empty()),
        image_pull_secrets: (!settings.image_pull_secrets.is_empty())
            .then(|| settings.image_pull_secrets.clone()),
        ..Default::default()
    }
}

fn container(config: &OperatorConfig) -> Container {
    let settings = &config.node_agent;
    Container {
        name: "node-agent".into(),
        image: Some(config.node_agent_image.clone()),
        image_pull_policy: settings.image_pull_policy.clone(),
        env: Some(env(settings)),
        ports: Some(vec![container_port(
            "metrics",
            i32::from(settings.metrics_port),
            "TCP",
        )]),
        liveness_probe: Some(http_probe("/healthz", "metrics", 10)),
        readiness_probe: Some(http_probe("/readyz", "metrics", 10)),
        resources: settings.resources.clone(),
        volume_mounts: Some(volume_mounts()),
        security_context: Some(security_context()),
        ..Default::default()
    }
}

fn env(settings: &NodeAgentSettings) -> Vec<EnvVar> {
    vec![
        env_from_field("NODE_NAME", "spec.nodeName"),
        env_value("CORAL_LOG_LEVEL", settings.log_level.clone()),
        env_value("CORAL_LOG_FORMAT", settings.log_format.clone()),
        env_value(
            "CORAL_DRAIN_INTERVAL",
            settings.drain_interval_seconds.to_string(),
        ),
        env_value(
            "CORAL_METRICS_ADDR",
            format!("0.0.0.0:{}", settings.metrics_port),
        ),
        env_value("CORAL_COLONIES_FILE", colonies::FILE_PATH),
    ]
}

fn volume_mounts() -> Vec<VolumeMount> {
    vec![
        mount("bpffs", "/sys/fs/bpf", false),
        mount("cgroup", "/sys/fs/cgroup", true),
        mount("state", STATE_DIR, false),
        mount("tun", "/dev/net/tun", false),
        mount("colonies", colonies::MOUNT_DIR, true),
    ]
}

fn volumes() -> Vec<Volume> {
    vec![
        host_path_volume("bpffs", "/sys/fs/bpf", "Directory"),
        host_path_volume("cgroup", "/sys/fs/cgroup", "Directory"),
        // The node's WireGuard key and batch sequence outlive the pod; the
        // root filesystem is read-only.
        host_path_volume("state", STATE_DIR, "DirectoryOrCreate"),
        // Container runtimes do not pass the TUN device by default.
        host_path_volume("tun", "/dev/net/tun", "CharDevice"),
        // Which colonies to join (tokens included). A whole directory, not
        // a subPath: the kubelet then updates the file when the Secret
        // changes. Not optional: the operator applies the Secret before the
        // DaemonSet, and an agent without the file has nothing to do.
        // `defaultMode` is left to the apiserver's 0644 so that the live
        // object carries every desired field.
        secret_volume("colonies", colonies::SECRET_NAME, None),
    ]
}

/// Not privileged: the capabilities in [`CAPABILITIES`] and no others.
fn security_context() -> SecurityContext {
    SecurityContext {
        privileged: Some(false),
        capabilities: Some(only_capabilities(CAPABILITIES)),
        ..locked_down()
    }
}

/// None for an empty map, so that an unset setting stays unset.
fn non_empty(map: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then(|| map.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_agent::NodeAgentSettings;

    fn config(settings: &str) -> OperatorConfig {
        OperatorConfig {
            namespace: "coral-system".into(),
            node_agent: NodeAgentSettings::parse(settings).unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn daemon_set_is_not_privileged_and_asks_for_documented_capabilities() {
        let ds = daemon_set(&config(""), None);
        assert_eq!(ds.metadata.namespace.as_deref(), Some("coral-system"));
        assert_eq!(ds.metadata.owner_references, None);
        let pod = ds.spec.template.spec.unwrap();
        let security = pod.containers[0].security_context.clone().unwrap();
        assert_eq!(security.privileged, Some(false));
        let caps = security.capabilities.unwrap();
        assert_eq!(caps.add.unwrap(), CAPABILITIES.map(String::from).to_vec());
        assert_eq!(caps.drop.unwrap(), vec!["ALL".to_string()]);
        // The key survives pod restarts; the mesh has its device.
        let volumes = pod.volumes.clone().unwrap();
        let path_of = |name: &str| {
            let volume = volumes.iter().find(|v| v.name == name).unwrap();
            volume.host_path.clone().unwrap().path
        };
        assert_eq!(path_of("state"), STATE_DIR);
        assert_eq!(path_of("tun"), "/dev/net/tun");
        // The colonies file comes from the operator's Secret, read-only.
        let colonies_volume = volumes.iter().find(|v| v.name == "colonies").unwrap();
        let source = colonies_volume.secret.clone().unwrap();
        assert_eq!(source.secret_name.as_deref(), Some(colonies::SECRET_NAME));
        assert_eq!(source.default_mode, None);
        let container = &pod.containers[0];
        let mounts = container.volume_mounts.clone().unwrap();
        let mount = mounts.iter().find(|m| m.name == "colonies").unwrap();
        assert_eq!(mount.mount_path, colonies::MOUNT_DIR);
        assert_eq!(mount.read_only, Some(true));
        assert_eq!(mount.sub_path, None);
        let env = container.env.clone().unwrap();
        let file = env
            .iter()
            .find(|e| e.name == "CORAL_COLONIES_FILE")
            .unwrap();
        assert_eq!(
            file.value.as_deref(),
            Some("/etc/coral/colonies/colonies.yaml")
        );
        // Default: every taint tolerated.
        let tolerations = pod.tolerations.unwrap();
        assert_eq!(tolerations[0].operator.as_deref(), Some("Exists"));
    }

    #[test]
    fn settings_reach_the_pod_and_cannot_replace_selector_labels() {
        let ds = daemon_set(
            &config(
                r#"{"resources":{"limits":{"memory":"100Mi"}},"nodeSelector":{"disk":"ssd"},
                    "priorityClassName":"system-node-critical","logLevel":"debug",
                    "podLabels":{"team":"sre","app.kubernetes.io/name":"mine"},
                    "drainIntervalSeconds":2,"metricsPort":9500}"#,
            ),
            Some(OwnerReference {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: "coral-operator".into(),
                uid: "u-1".into(),
                ..Default::default()
            }),
        );
        assert_eq!(ds.metadata.owner_references.unwrap()[0].uid, "u-1");
        let template = ds.spec.template;
        let labels = template.metadata.unwrap().labels.unwrap();
        assert_eq!(labels["team"], "sre");
        assert_eq!(labels["app.kubernetes.io/name"], "coral-node-agent");
        let pod = template.spec.unwrap();
        assert_eq!(pod.node_selector.unwrap()["disk"], "ssd");
        assert_eq!(
            pod.priority_class_name.as_deref(),
            Some("system-node-critical")
        );
        let container = &pod.containers[0];
        let limits = container.resources.clone().unwrap().limits.unwrap();
        assert_eq!(limits["memory"].0, "100Mi");
        let env = container.env.clone().unwrap();
        let var = |name: &str| env.iter().find(|e| e.name == name).unwrap().value.clone();
        assert_eq!(var("CORAL_LOG_LEVEL").as_deref(), Some("debug"));
        assert_eq!(var("CORAL_DRAIN_INTERVAL").as_deref(), Some("2"));
        assert_eq!(var("CORAL_METRICS_ADDR").as_deref(), Some("0.0.0.0:9500"));
        assert_eq!(container.ports.clone().unwrap()[0].container_port, 9500);
    }
}
