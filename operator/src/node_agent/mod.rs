//! The node-agent DaemonSet: present in the operator's namespace while at
//! least one Colony exists anywhere, removed when the last one goes.
//!
//! It has no owner reference: its "owners" are Colonies in other namespaces,
//! which owner references cannot express. A small loop over a Colony
//! reflector keeps it in step instead.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use coral_crds::Colony;
use futures::{Future, StreamExt, stream};
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, EnvVarSource, HostPathVolumeSource, ObjectFieldSelector,
    PodSpec, PodTemplateSpec, SecurityContext, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use crate::apply::{apply_if_changed, delete_if_present, get_live};
use crate::context::{Context, OperatorConfig};
use crate::error::Result;
use crate::labels::{self, NODE_AGENT_NAME};

/// Linux capabilities the agent needs instead of `privileged`: loading eBPF
/// programs (BPF, PERFMON), raising memlock for maps (SYS_RESOURCE), the
/// WireGuard device (NET_ADMIN), and reading other processes' network
/// namespaces for pod attribution (SYS_PTRACE).
pub const CAPABILITIES: [&str; 5] = ["BPF", "PERFMON", "NET_ADMIN", "SYS_RESOURCE", "SYS_PTRACE"];

/// Desired DaemonSet. Pure.
pub fn daemon_set(config: &OperatorConfig) -> DaemonSet {
    let host_path = |name: &str, path: &str| Volume {
        name: name.into(),
        host_path: Some(HostPathVolumeSource {
            path: path.into(),
            type_: Some("Directory".into()),
        }),
        ..Default::default()
    };
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        // The apiserver drops `readOnly: false`; leave it unset so live matches desired.
        read_only: read_only.then_some(true),
        ..Default::default()
    };
    let container = Container {
        name: "node-agent".into(),
        image: Some(config.node_agent_image.clone()),
        env: Some(vec![EnvVar {
            name: "NODE_NAME".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "spec.nodeName".into(),
                    api_version: None,
                }),
                ..Default::default()
            }),
            value: None,
        }]),
        volume_mounts: Some(vec![
            mount("bpffs", "/sys/fs/bpf", false),
            mount("cgroup", "/sys/fs/cgroup", true),
        ]),
        security_context: Some(SecurityContext {
            privileged: Some(false),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                add: Some(CAPABILITIES.iter().map(|c| c.to_string()).collect()),
                drop: Some(vec!["ALL".into()]),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    DaemonSet {
        metadata: ObjectMeta {
            name: Some(NODE_AGENT_NAME.into()),
            namespace: Some(config.namespace.clone()),
            labels: Some(labels::node_agent_labels()),
            ..Default::default()
        },
        spec: DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels::node_agent_selector_labels()),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels::node_agent_labels()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(NODE_AGENT_NAME.into()),
                    // Host PIDs map sockets to pods through /proc.
                    host_pid: Some(true),
                    containers: vec![container],
                    volumes: Some(vec![
                        host_path("bpffs", "/sys/fs/bpf"),
                        host_path("cgroup", "/sys/fs/cgroup"),
                    ]),
                    // Every node, including tainted ones: flows are observed where pods run.
                    tolerations: Some(vec![Toleration {
                        operator: Some("Exists".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        status: None,
    }
}

/// Brings the DaemonSet in line with whether any Colony exists.
pub async fn sync(ctx: &Context, colonies_exist: bool) -> Result<()> {
    let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ctx.config.namespace);
    if colonies_exist {
        let live = get_live(&api, NODE_AGENT_NAME).await?;
        apply_if_changed(&api, &daemon_set(&ctx.config), live, &ctx.metrics).await?;
    } else {
        delete_if_present(&api, NODE_AGENT_NAME, &ctx.metrics).await?;
    }
    Ok(())
}

/// Runs until `shutdown`: re-syncs after every Colony or DaemonSet change
/// (once the Colony list is complete) and every five minutes.
pub fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = ()> {
    let colonies = watcher(
        Api::<PartialObjectMeta<Colony>>::all(ctx.client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .map(|event| Trigger::Colony(Box::new(event)));
    let selector = format!("app.kubernetes.io/name={NODE_AGENT_NAME}");
    let daemon_sets = watcher(
        Api::<PartialObjectMeta<DaemonSet>>::namespaced(ctx.client.clone(), &ctx.config.namespace),
        watcher::Config::default().labels(&selector),
    )
    .default_backoff()
    .map(|_| Trigger::Other);
    let ticks = stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_secs(300)).await;
        Some((Trigger::Other, ()))
    });
    let triggers =
        stream::select(stream::select(colonies, daemon_sets), ticks).take_until(shutdown);
    async move {
        futures::pin_mut!(triggers);
        let mut colonies = ColonySet::default();
        while let Some(trigger) = triggers.next().await {
            if let Trigger::Colony(event) = trigger
                && let Ok(event) = *event
            {
                colonies.observe(event);
            }
            let Some(exist) = colonies.any() else {
                continue;
            };
            if let Err(error) = sync(&ctx, exist).await {
                tracing::warn!(%error, "node-agent DaemonSet sync failed; retrying on the next change");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

enum Trigger {
    Colony(Box<Result<watcher::Event<PartialObjectMeta<Colony>>, watcher::Error>>),
    Other,
}

/// Which Colonies exist, from watch events; unknown until the first full list.
#[derive(Default)]
struct ColonySet {
    known: HashSet<(String, String)>,
    listing: HashSet<(String, String)>,
    complete: bool,
}

impl ColonySet {
    fn observe(&mut self, event: watcher::Event<PartialObjectMeta<Colony>>) {
        let key = |colony: &PartialObjectMeta<Colony>| {
            (colony.namespace().unwrap_or_default(), colony.name_any())
        };
        match event {
            watcher::Event::Init => self.listing.clear(),
            watcher::Event::InitApply(colony) => {
                self.listing.insert(key(&colony));
            }
            watcher::Event::InitDone => {
                self.known = std::mem::take(&mut self.listing);
                self.complete = true;
            }
            watcher::Event::Apply(colony) => {
                self.known.insert(key(&colony));
            }
            watcher::Event::Delete(colony) => {
                self.known.remove(&key(&colony));
            }
        }
    }

    /// Some(true/false) once a full list was seen.
    fn any(&self) -> Option<bool> {
        self.complete.then_some(!self.known.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::PartialObjectMetaExt;

    #[test]
    fn colony_set_is_unknown_until_listed_then_follows_events() {
        let colony = |name: &str| {
            let meta = ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..Default::default()
            };
            meta.into_request_partial::<Colony>()
        };
        let mut set = ColonySet::default();
        set.observe(watcher::Event::Init);
        set.observe(watcher::Event::InitApply(colony("a")));
        assert_eq!(set.any(), None);
        set.observe(watcher::Event::InitDone);
        assert_eq!(set.any(), Some(true));
        set.observe(watcher::Event::Delete(colony("a")));
        assert_eq!(set.any(), Some(false));
        set.observe(watcher::Event::Apply(colony("b")));
        assert_eq!(set.any(), Some(true));
    }

    #[test]
    fn daemon_set_is_not_privileged_and_asks_for_documented_capabilities() {
        let config = OperatorConfig {
            namespace: "coral-system".into(),
            ..Default::default()
        };
        let ds = daemon_set(&config);
        assert_eq!(ds.metadata.namespace.as_deref(), Some("coral-system"));
        let pod = ds.spec.template.spec.unwrap();
        let security = pod.containers[0].security_context.clone().unwrap();
        assert_eq!(security.privileged, Some(false));
        let caps = security.capabilities.unwrap();
        assert_eq!(caps.add.unwrap(), CAPABILITIES.map(String::from).to_vec());
        assert_eq!(caps.drop.unwrap(), vec!["ALL".to_string()]);
    }
}
