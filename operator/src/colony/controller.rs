//! Wires the Colony reconciler into a kube-runtime Controller that watches
//! Colonies and the children it owns (label-scoped to keep memory low).

use std::sync::Arc;

use coral_crds::Colony;
use futures::{Future, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use kube::Api;
use kube::runtime::{Controller, watcher};

use super::reconcile::{CONTROLLER, error_policy, reconcile};
use crate::context::Context;
use crate::labels::MANAGED_BY_SELECTOR;
use crate::tolerant_watch;

pub fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> impl Future<Output = ()> {
    let client = ctx.client.clone();
    let children = watcher::Config::default().labels(MANAGED_BY_SELECTOR);
    let (colonies, changes) = tolerant_watch::watch::<Colony>(ctx.clone(), CONTROLLER);
    Controller::for_stream(changes, colonies)
        .with_config(crate::context::controller_config())
        .owns(Api::<StatefulSet>::all(client.clone()), children.clone())
        .owns(Api::<Deployment>::all(client.clone()), children.clone())
        .owns(Api::<Service>::all(client.clone()), children.clone())
        .owns(Api::<ConfigMap>::all(client.clone()), children.clone())
        .owns(Api::<Secret>::all(client), children)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(colony = %object, "reconciled"),
                Err(error) => tracing::debug!(%error, "colony controller event"),
            }
        })
}
