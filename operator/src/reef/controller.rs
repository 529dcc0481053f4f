//! Wires the Reef reconciler into a Controller owning its children.

use std::sync::Arc;

use coral_crds::Reef;
use futures::{Future, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
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
    let (reefs, changes) = tolerant_watch::watch::<Reef>(ctx.clone(), CONTROLLER);
    Controller::for_stream(changes, reefs)
        .with_config(crate::context::controller_config())
        .owns(Api::<Deployment>::all(client.clone()), children.clone())
        .owns(Api::<Service>::all(client.clone()), children.clone())
        .owns(Api::<Ingress>::all(client.clone()), children.clone())
        .owns(Api::<Secret>::all(client), children)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(reef = %object, "reconciled"),
                Err(error) => tracing::debug!(%error, "reef controller event"),
            }
        })
}
