//! Connection controller: woken by its own changes, by pods appearing or
//! changing in its namespace (metadata-only watch), and by Colonies it names.

use std::sync::Arc;

use coral_crds::{Colony, Connection};
use futures::{Future, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::core::{PartialObjectMeta, Selector, SelectorExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};

use super::reconcile::{error_policy, reconcile};
use crate::context::Context;

pub fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> {
    let client = ctx.client.clone();
    let controller = Controller::new(
        Api::<Connection>::all(client.clone()),
        watcher::Config::default(),
    )
    .with_config(crate::context::controller_config());
    let by_pod = controller.store();
    let by_colony = controller.store();
    // Metadata only: labels are all the mapping needs, and pods are many.
    let pods = Api::<PartialObjectMeta<Pod>>::all(client.clone());
    controller
        .watches(pods, watcher::Config::default(), move |pod| {
            connections_selecting(&by_pod, &pod)
        })
        .watches(
            Api::<Colony>::all(client),
            watcher::Config::default(),
            move |colony| connections_naming(&by_colony, &colony),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(connection = %object, "reconciled"),
                Err(error) => tracing::debug!(%error, "connection controller event"),
            }
        })
}

/// Connections in the pod's namespace that may select it (workload refs are
/// resolved in the reconcile, so they are always woken).
fn connections_selecting(
    store: &Store<Connection>,
    pod: &PartialObjectMeta<Pod>,
) -> Vec<ObjectRef<Connection>> {
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

fn connections_naming(store: &Store<Connection>, colony: &Colony) -> Vec<ObjectRef<Connection>> {
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
