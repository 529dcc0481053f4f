//! The node-agent DaemonSet: present in the operator's namespace while at
//! least one Colony exists anywhere, removed when the last one goes.
//!
//! Its "owners" are Colonies in other namespaces, which owner references
//! cannot express, so a small loop over a Colony reflector keeps it in step.
//! Its owner reference is the operator's own Deployment (when the operator
//! knows it, `--owner-deployment`): uninstalling the operator removes it.

mod desired;
mod settings;

pub use desired::{CAPABILITIES, daemon_set};
pub use settings::{NodeAgentSettings, SettingsError};

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use coral_crds::Colony;
use futures::{Future, StreamExt, stream};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::core::PartialObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};

use crate::apply::{apply_if_changed, delete_if_present, get_live};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::labels::NODE_AGENT_NAME;

/// Brings the DaemonSet in line with whether any Colony exists.
pub async fn sync(ctx: &Context, colonies_exist: bool) -> Result<()> {
    let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ctx.config.namespace);
    if colonies_exist {
        let owner = operator_deployment(ctx).await?;
        let live = get_live(&api, NODE_AGENT_NAME).await?;
        apply_if_changed(&api, &daemon_set(&ctx.config, owner), live, &ctx.metrics).await?;
    } else {
        delete_if_present(&api, NODE_AGENT_NAME, &ctx.metrics).await?;
    }
    Ok(())
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
