//! Connection controller: woken by its own changes, by pods appearing or
//! changing in its namespace, and by Colonies it names. The pod and Colony
//! watches also fill the caches a reconcile resolves from, so resolving
//! costs no API call (1,000 Connections woken at once stay cheap).

use std::sync::Arc;

use coral_crds::{Colony, Connection};
use futures::{Future, StreamExt};
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::core::{PartialObjectMeta, Selector, SelectorExt};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::caches::Caches;
use super::reconcile::{CONTROLLER, ConnectionContext, error_policy, reconcile};
use crate::context::Context;
use crate::tolerant_watch;

pub fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> {
    let client = ctx.client.clone();
    let (connections, changes) = tolerant_watch::watch::<Connection>(ctx.clone(), CONTROLLER);
    let controller = Controller::for_stream(changes, connections)
        .with_config(crate::context::controller_config());
    let by_pod = controller.store();
    let by_colony = controller.store();
    let (pods, pod_writer) = reflector::store();
    let pod_changes = watcher(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(keep_what_resolving_reads)
        .reflect(pod_writer)
        .touched_objects();
    let (colonies, colony_writer) = reflector::store();
    let colony_changes = watcher(
        Api::<PartialObjectMeta<Colony>>::all(client),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(colony_writer)
    .touched_objects();
    let shared = Arc::new(ConnectionContext {
        ctx,
        caches: Caches::new(pods, colonies),
    });
    controller
        .watches_stream(pod_changes, move |pod| connections_selecting(&by_pod, &pod))
        .watches_stream(colony_changes, move |colony| {
            connections_naming(&by_colony, &colony)
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, shared)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(connection = %object, "reconciled"),
                Err(error) => tracing::debug!(%error, "connection controller event"),
            }
        })
}

/// Pods are many: the cache keeps names, labels, owners, the deletion mark
/// and the phase, which is all a Connection's status is built from.
fn keep_what_resolving_reads(pod: &mut Pod) {
    pod.metadata.managed_fields = None;
    pod.metadata.annotations = None;
    pod.spec = None;
    pod.status = pod.status.take().map(|status| PodStatus {
        phase: status.phase,
        ..Default::default()
    });
}

/// Connections in the pod's namespace that may select it (workload refs are
/// resolved in the reconcile, so they are always woken).
fn connections_selecting(store: &Store<Connection>, pod: &Pod) -> Vec<ObjectRef<Connection>> {
    let namespace = pod.namespace();
    store
        .state()
        .into_iter()
        .filter(|connection| connection.namespace() == namespace)
        .filter(|connection| match &connection.spec.selector {
            Some(selector) => {
                Selector::try_from(selector.clone()).map_or(true, |s| s.matches(pod.labels()))
            }
            None => true,
        })
        .map(|connection| ObjectRef::from_obj(&*connection))
        .collect()
}

fn connections_naming(
    store: &Store<Connection>,
    colony: &PartialObjectMeta<Colony>,
) -> Vec<ObjectRef<Connection>> {
    let namespace = colony.namespace();
    let name = colony.name_any();
    store
        .state()
        .into_iter()
        .filter(|connection| {
            connection.namespace() == namespace && connection.spec.colony_ref.name == name
        })
        .map(|connection| ObjectRef::from_obj(&*connection))
        .collect()
}
