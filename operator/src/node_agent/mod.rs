//! The node-agent DaemonSet: present in the operator's namespace while at
//! least one Colony exists anywhere, removed when the last one goes; with
//! it the `coral-node-agent-colonies` Secret, the agents' `colonies.yaml`
//! (which colonies to join: endpoint, enrollment token, mesh network).
//!
//! Their "owners" are Colonies in other namespaces, which owner references
//! cannot express, so a small loop over a Colony reflector keeps them in
//! step. Their owner reference is the operator's own Deployment (when the
//! operator knows it, `--owner-deployment`): uninstalling the operator
//! removes them.

pub mod colonies;
mod desired;
mod settings;

pub use desired::{CAPABILITIES, NodeAgentChildren, daemon_set};
pub use settings::{NodeAgentSettings, SettingsError};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use coral_crds::Colony;
use futures::{Future, StreamExt, TryStreamExt, stream};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ObjectReference, Secret, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Event, EventType};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};

use self::colonies::{ColonyInput, Overlap};
use crate::apply::{apply_if_changed, delete_if_present, get_live};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::keys::ENROLLMENT_TOKEN;
use crate::labels::{self, NODE_AGENT_NAME};
use crate::tolerant_watch::decode_object;

/// Colonies left out of `colonies.yaml` for an overlapping mesh network,
/// with references to the Colony left out and to the one it collides with.
pub type Overlaps = BTreeMap<Overlap, (ObjectReference, Option<ObjectReference>)>;

/// Brings the colonies Secret and the DaemonSet in line with the Colonies:
/// both exist while any Colony does (the Secret first, so that the agents'
/// pods can mount it), neither when none does. Returns the Colonies left
/// out for overlapping mesh networks.
pub async fn sync(ctx: &Context, colonies_exist: bool) -> Result<Overlaps> {
    let namespace = &ctx.config.namespace;
    let daemon_sets: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    if !colonies_exist {
        // The DaemonSet first: its pods mount the Secret.
        delete_if_present(&daemon_sets, NODE_AGENT_NAME, &ctx.metrics).await?;
        delete_if_present(&secrets, colonies::SECRET_NAME, &ctx.metrics).await?;
        return Ok(Overlaps::new());
    }
    let owner = operator_deployment(ctx).await?;
    let (inputs, references) = read_colonies(ctx).await?;
    let built = colonies::build(inputs);
    for (colony, cidr) in &built.invalid_cidrs {
        tracing::warn!(%colony, %cidr, "Colony's spec.mesh.ipv4CIDR is not an IPv4 CIDR; node-agents do not join it");
    }
    // Every child is named here, so one that is built but never applied
    // does not compile.
    let NodeAgentChildren {
        colonies_secret,
        daemon_set,
    } = desired::build(&ctx.config, &built.file, owner);
    let live = get_live(&secrets, colonies::SECRET_NAME).await?;
    apply_if_changed(&secrets, &colonies_secret, live, &ctx.metrics).await?;
    let live = get_live(&daemon_sets, NODE_AGENT_NAME).await?;
    apply_if_changed(&daemon_sets, &daemon_set, live, &ctx.metrics).await?;
    Ok(built
        .overlaps
        .into_iter()
        .filter_map(|overlap| {
            let colony = references.get(&overlap.colony)?.clone();
            let with = references.get(&overlap.with).cloned();
            Some((overlap, (colony, with)))
        })
        .collect())
}

/// Every Colony that decodes and is not being deleted, with its enrollment
/// token and Service ClusterIP when they exist, and references to them by
/// `namespace/name`. Listed as JSON and decoded one by one, like the
/// controllers' watches (`tolerant_watch.rs`): one unreadable Colony, which
/// the Colony controller reports, does not hide the others from the agents.
async fn read_colonies(
    ctx: &Context,
) -> Result<(Vec<ColonyInput>, HashMap<String, ObjectReference>)> {
    let resource = ApiResource::erase::<Colony>(&());
    let api = Api::<DynamicObject>::all_with(ctx.client.clone(), &resource);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(Error::kube("list Colonies"))?;
    let readable: Vec<Colony> = list
        .items
        .into_iter()
        .filter_map(|object| match decode_object::<Colony>(&object) {
            Ok(colony) => Some(colony),
            Err(error) => {
                tracing::debug!(
                    namespace = %object.namespace().unwrap_or_default(),
                    name = %object.name_any(),
                    %error,
                    "Colony does not decode; node-agents do not join it"
                );
                None
            }
        })
        .filter(|colony| colony.metadata.deletion_timestamp.is_none())
        .collect();
    let references = readable
        .iter()
        .map(|colony| {
            let key = format!(
                "{}/{}",
                colony.namespace().unwrap_or_default(),
                colony.name_any()
            );
            (key, colony.object_ref(&()))
        })
        .collect();
    let inputs = stream::iter(readable)
        .map(|colony| colony_input(ctx, colony))
        .buffered(16)
        .try_collect()
        .await?;
    Ok((inputs, references))
}

/// Reads a Colony's keys Secret and Service.
async fn colony_input(ctx: &Context, colony: Colony) -> Result<ColonyInput> {
    let namespace = colony
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let name = colony.name_any();
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &namespace);
    let keys = get_live(&secrets, &labels::colony_keys_name(&name)).await?;
    let service = get_live(&services, &labels::colony_workload_name(&name)).await?;
    let enrollment_token = keys
        .and_then(|secret| secret.data?.remove(ENROLLMENT_TOKEN))
        .and_then(|bytes| String::from_utf8(bytes.0).ok());
    let cluster_ip = service.and_then(|service| service.spec?.cluster_ip);
    Ok(ColonyInput {
        namespace,
        name,
        created: colony.metadata.creation_timestamp.clone(),
        mesh_ipv4_cidr: colony.spec.mesh.ipv4_cidr.clone(),
        enrollment_token,
        cluster_ip,
    })
}

/// Tells the user about Colonies newly left out for an overlapping mesh
/// network: a log line and a Warning Event `MeshCIDROverlap` on each.
/// `reported` is the previous set; nothing is written while it stays the same.
async fn report_overlaps(ctx: &Context, reported: &mut BTreeSet<Overlap>, overlaps: Overlaps) {
    let current: BTreeSet<Overlap> = overlaps.keys().cloned().collect();
    if current == *reported {
        return;
    }
    for (overlap, (colony, with)) in overlaps {
        if reported.contains(&overlap) {
            continue;
        }
        let Overlap {
            colony: name,
            cidr,
            with: with_name,
            with_cidr,
        } = &overlap;
        tracing::warn!(
            colony = %name, %cidr, with = %with_name, %with_cidr,
            "Colony's mesh network overlaps an older Colony's; node-agents do not join it"
        );
        let event = Event {
            type_: EventType::Warning,
            reason: "MeshCIDROverlap".into(),
            note: Some(format!(
                "mesh network {cidr} overlaps {with_cidr} of Colony {with_name}, which is older, \
                 so node-agents do not join this colony; re-create it with spec.mesh.ipv4CIDR \
                 set to a range no other Colony uses (the field is immutable)"
            )),
            action: "ConfigureNodeAgents".into(),
            secondary: with,
        };
        match ctx.recorder.publish(&event, &colony).await {
            Ok(()) => ctx.metrics.record_write("Event"),
            Err(error) => tracing::warn!(%error, "could not record event"),
        }
    }
    *reported = current;
}

/// A reference to the operator's own Deployment, when it is configured and
/// exists. A failed read is an error (retried), not "no owner": applying
/// without the reference would remove it from the live DaemonSet.
async fn operator_deployment(ctx: &Context) -> Result<Option<OwnerReference>> {
    let Some(name) = &ctx.config.owner_deployment else {
        return Ok(None);
    };
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ctx.config.namespace);
    let deployment = api.get_opt(name).await.map_err(Error::kube(format!(
        "get Deployment {name} (the operator's own)"
    )))?;
    match deployment {
        Some(deployment) => Ok(deployment.controller_owner_ref(&()).map(|mut owner| {
            // Not the DaemonSet's controller (the operator is), and the
            // operator's RBAC cannot set blockOwnerDeletion.
            owner.controller = None;
            owner.block_owner_deletion = None;
            owner
        })),
        None => {
            tracing::warn!(
                deployment = %name,
                namespace = %ctx.config.namespace,
                "--owner-deployment names no Deployment; the node-agent DaemonSet gets no owner and outlives an uninstall"
            );
            Ok(None)
        }
    }
}

/// Runs until `shutdown`: re-syncs after Colony, DaemonSet or colonies
/// Secret changes (once the Colony list is complete; the changes that
/// arrived together make one sync) and every five minutes. A Colony's
/// status patch, which follows its keys Secret and Service, is such a change.
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
    // Edited or deleted by hand: put back.
    let secret_name = format!("metadata.name={}", colonies::SECRET_NAME);
    let secrets = watcher(
        Api::<PartialObjectMeta<Secret>>::namespaced(ctx.client.clone(), &ctx.config.namespace),
        watcher::Config::default().fields(&secret_name),
    )
    .default_backoff()
    .map(|_| Trigger::Other);
    let ticks = stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_secs(300)).await;
        Some((Trigger::Other, ()))
    });
    let triggers = stream::select_all([
        colonies.boxed(),
        daemon_sets.boxed(),
        secrets.boxed(),
        ticks.boxed(),
    ])
    .take_until(shutdown)
    .ready_chunks(256);
    async move {
        futures::pin_mut!(triggers);
        let mut colonies = ColonySet::default();
        let mut reported = BTreeSet::new();
        while let Some(batch) = triggers.next().await {
            for trigger in batch {
                if let Trigger::Colony(event) = trigger
                    && let Ok(event) = *event
                {
                    colonies.observe(event);
                }
            }
            let Some(exist) = colonies.any() else {
                continue;
            };
            match sync(&ctx, exist).await {
                Ok(overlaps) => report_overlaps(&ctx, &mut reported, overlaps).await,
                Err(error) => {
                    tracing::warn!(%error, "node-agent DaemonSet sync failed; retrying on the next change");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
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
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
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
}
