//! One Connection reconcile: colony exists? → selector → pods → status.
//! Missing references become conditions, never errors that retry in a loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use coral_crds::{Connection, WorkloadKind};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, Resource, ResourceExt};

use super::caches::Caches;
use super::resolve::{Resolution, build_status};
use crate::FIELD_MANAGER;
use crate::apply::get_live;
use crate::context::Context;
use crate::error::{Error, Result};

pub const CONTROLLER: &str = "connection";
const RESYNC: Duration = Duration::from_secs(300);

/// A Connection reconcile's context: the operator's, and the caches of the
/// controller's own watches.
pub struct ConnectionContext {
    pub ctx: Arc<Context>,
    pub caches: Caches,
}

pub async fn reconcile(
    connection: Arc<Connection>,
    shared: Arc<ConnectionContext>,
) -> Result<Action> {
    let ctx = &shared.ctx;
    let started = Instant::now();
    // Before the first full lists, "no such Colony" or "no pods" would be
    // a guess, and writing it a wasted (and wrong) status write.
    shared.caches.wait_until_filled().await;
    let result = reconcile_connection(&connection, &shared).await;
    ctx.metrics.record_reconcile(CONTROLLER, started.elapsed());
    if result.is_ok() {
        ctx.reset_backoff(&backoff_key(&connection));
    }
    result
}

pub fn error_policy(
    connection: Arc<Connection>,
    error: &Error,
    shared: Arc<ConnectionContext>,
) -> Action {
    let ctx = &shared.ctx;
    ctx.metrics.record_error(CONTROLLER);
    let delay = ctx.next_backoff(&backoff_key(&connection));
    tracing::warn!(connection = %backoff_key(&connection), %error, retry_in = ?delay, "connection reconcile failed");
    Action::requeue(delay)
}

fn backoff_key(connection: &Connection) -> String {
    format!(
        "connection/{}/{}",
        connection.namespace().unwrap_or_default(),
        connection.name_any()
    )
}

async fn reconcile_connection(
    connection: &Connection,
    shared: &ConnectionContext,
) -> Result<Action> {
    let ctx = &shared.ctx;
    if connection.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = connection
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let resolution = resolve(connection, &namespace, &shared.caches, &ctx.client).await?;
    let now = Time(
        Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now()),
    );
    let status = build_status(connection, &resolution, &now);
    if connection.status.as_ref() != Some(&status) {
        let api: Api<Connection> = Api::namespaced(ctx.client.clone(), &namespace);
        let patch = serde_json::json!({
            "apiVersion": Connection::api_version(&()),
            "kind": Connection::kind(&()),
            "status": status,
        });
        api.patch_status(
            &connection.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(Error::kube(format!(
            "patch status of Connection {}",
            connection.name_any()
        )))?;
        ctx.metrics.record_write("Connection/status");
    }
    Ok(Action::requeue(RESYNC))
}

async fn resolve(
    connection: &Connection,
    namespace: &str,
    caches: &Caches,
    client: &Client,
) -> Result<Resolution> {
    let colony = ObjectRef::new(&connection.spec.colony_ref.name).within(namespace);
    if caches.colonies.get(&colony).is_none() {
        return Ok(Resolution::ColonyNotFound(namespace.to_string()));
    }
    let label_selector = match (&connection.spec.selector, &connection.spec.workload_ref) {
        (Some(selector), _) => selector.clone(),
        (None, Some(workload)) => {
            match workload_selector(client, namespace, workload.kind, &workload.name).await? {
                Some(selector) => selector,
                None => {
                    return Ok(Resolution::WorkloadNotFound(format!(
                        "{} {:?} in namespace {namespace:?}",
                        workload.kind.as_str(),
                        workload.name
                    )));
                }
            }
        }
        // The schema requires one of the two; an old object may still lack both.
        (None, None) => {
            return Ok(Resolution::InvalidSelector(
                "neither spec.selector nor spec.workloadRef is set".into(),
            ));
        }
    };
    let selector = match Selector::try_from(label_selector) {
        Ok(selector) => selector,
        Err(problem) => return Ok(Resolution::InvalidSelector(problem.to_string())),
    };
    let pods = caches
        .pods
        .state()
        .into_iter()
        .filter(|pod| pod.metadata.namespace.as_deref() == Some(namespace))
        .filter(|pod| selector.matches(pod.labels()))
        .map(|pod| Pod::clone(&pod))
        .collect();
    Ok(Resolution::Pods(pods))
}

/// The pod selector of a workload, or None when it does not exist.
async fn workload_selector(
    client: &Client,
    namespace: &str,
    kind: WorkloadKind,
    name: &str,
) -> Result<Option<LabelSelector>> {
    let client = client.clone();
    Ok(match kind {
        WorkloadKind::Deployment => {
            get_live(&Api::<Deployment>::namespaced(client, namespace), name)
                .await?
                .map(|w| w.spec.selector)
        }
        WorkloadKind::StatefulSet => {
            get_live(&Api::<StatefulSet>::namespaced(client, namespace), name)
                .await?
                .map(|w| w.spec.selector)
        }
        WorkloadKind::DaemonSet => get_live(&Api::<DaemonSet>::namespaced(client, namespace), name)
            .await?
            .map(|w| w.spec.selector),
        WorkloadKind::ReplicaSet => {
            get_live(&Api::<ReplicaSet>::namespaced(client, namespace), name)
                .await?
                .map(|w| w.spec.selector)
        }
        WorkloadKind::Job => get_live(&Api::<Job>::namespaced(client, namespace), name)
            .await?
            .map(|w| w.spec.and_then(|s| s.selector).unwrap_or_default()),
    })
}
