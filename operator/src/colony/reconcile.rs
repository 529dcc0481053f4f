//! One Colony reconcile: read keys → build children → apply what differs →
//! status. Writes happen only when something differs.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coral_crds::Colony;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::desired::{self, ColonyChildren, ColonyWorkload};
use super::status::{self, Observation, WorkloadReadiness};
use crate::FIELD_MANAGER;
use crate::apply::{Applied, apply_if_changed, delete_if_present, get_live};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::keys::ColonyKeys;
use crate::labels;
use crate::metrics::Metrics;

pub const CONTROLLER: &str = "colony";
/// Periodic resync; child watches wake the reconcile sooner.
const RESYNC: Duration = Duration::from_secs(300);

pub async fn reconcile(colony: Arc<Colony>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_colony(&colony, &ctx).await;
    ctx.metrics.record_reconcile(CONTROLLER, started.elapsed());
    if result.is_ok() {
        ctx.reset_backoff(&backoff_key(&colony));
    }
    result
}

pub fn error_policy(colony: Arc<Colony>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.record_error(CONTROLLER);
    let delay = ctx.next_backoff(&backoff_key(&colony));
    tracing::warn!(colony = %backoff_key(&colony), %error, retry_in = ?delay, "colony reconcile failed");
    Action::requeue(delay)
}

fn backoff_key(colony: &Colony) -> String {
    format!(
        "colony/{}/{}",
        colony.namespace().unwrap_or_default(),
        colony.name_any()
    )
}

async fn reconcile_colony(colony: &Colony, ctx: &Context) -> Result<Action> {
    if colony.metadata.deletion_timestamp.is_some() {
        // Children go with the Colony through owner references.
        return Ok(Action::await_change());
    }
    let namespace = colony
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let name = colony.name_any();
    let client = ctx.client.clone();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let keys_name = labels::colony_keys_name(&name);

    let live_secret = get_live(&secrets, &keys_name).await?;
    let empty = BTreeMap::new();
    let (keys, live_secret) = match live_secret {
        Some(secret) => {
            match ColonyKeys::from_secret_data(secret.data.as_ref().unwrap_or(&empty)) {
                Ok(keys) => (keys, Some(secret)),
                Err(problem) => {
                    let message = format!(
                        "Secret {keys_name} is unusable ({problem}); it is left untouched. Delete it to have new keys generated (agents then re-enroll)."
                    );
                    let observation = Observation::KeySecretInvalid(message.clone());
                    update_status(
                        colony,
                        ctx,
                        None,
                        &observation,
                        Some(("KeySecretInvalid", message)),
                    )
                    .await?;
                    return Ok(Action::requeue(RESYNC));
                }
            }
        }
        None => (ColonyKeys::generate(), None),
    };

    // Built once, from the keys read or just generated. Every child is
    // named here, so one that is built but never applied does not compile.
    let ColonyChildren {
        keys_secret,
        config_map,
        service_account,
        role,
        role_binding,
        workload,
        service,
    } = desired::build(colony, &keys, &ctx.config.colony_image)?;
    let mut written: Vec<&str> = Vec::new();
    let metrics = &ctx.metrics;
    match live_secret {
        Some(live) => note(
            &mut written,
            "Secret",
            apply_if_changed(&secrets, &keys_secret, Some(live), metrics)
                .await?
                .0,
        ),
        None => {
            // Generated exactly once: `create` fails if another writer got there first,
            // and the retry then reads the existing Secret.
            let params = PostParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..Default::default()
            };
            secrets
                .create(&params, &keys_secret)
                .await
                .map_err(Error::kube(format!("create Secret {keys_name}")))?;
            ctx.metrics.record_write("Secret");
            publish(
                ctx,
                colony,
                EventType::Normal,
                "KeysGenerated",
                format!(
                    "generated the WireGuard keypair and enrollment token in Secret {keys_name}"
                ),
            )
            .await;
        }
    }
    // The children that are applied as they are; the workload below also
    // switches kind and reports readiness.
    apply_child(&client, &namespace, &config_map, &mut written, metrics).await?;
    apply_child(&client, &namespace, &service_account, &mut written, metrics).await?;
    apply_child(&client, &namespace, &role, &mut written, metrics).await?;
    apply_child(&client, &namespace, &role_binding, &mut written, metrics).await?;
    apply_child(&client, &namespace, &service, &mut written, metrics).await?;

    let workload_name = labels::colony_workload_name(&name);
    let stateful_sets: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let applied = match &workload {
        ColonyWorkload::StatefulSet(sts) => {
            if delete_if_present(&deployments, &workload_name, metrics).await? {
                written.push("deleted Deployment");
            }
            let live = get_live(&stateful_sets, &workload_name).await?;
            apply_if_changed(&stateful_sets, sts, live, metrics)
                .await
                .map(|(applied, sts)| {
                    note(&mut written, "StatefulSet", applied);
                    WorkloadReadiness::of_stateful_set(&sts)
                })
        }
        ColonyWorkload::Deployment(deployment) => {
            if delete_if_present(&stateful_sets, &workload_name, metrics).await? {
                written.push("deleted StatefulSet");
            }
            let live = get_live(&deployments, &workload_name).await?;
            apply_if_changed(&deployments, deployment, live, metrics)
                .await
                .map(|(applied, deployment)| {
                    note(&mut written, "Deployment", applied);
                    WorkloadReadiness::of_deployment(&deployment)
                })
        }
    };
    let observation = match applied {
        Ok(readiness) => Observation::Applied(readiness),
        // The apiserver refused the object (e.g. an immutable field): a condition, not a crash loop.
        Err(Error::Kube {
            action,
            source: kube::Error::Api(status),
        }) if status.code == 422 => {
            Observation::ApplyFailed(format!("{action} was refused: {}", status.message))
        }
        Err(other) => return Err(other),
    };
    if !written.is_empty() {
        publish(
            ctx,
            colony,
            EventType::Normal,
            "Applied",
            format!("applied {}", written.join(", ")),
        )
        .await;
    }
    let warning = match &observation {
        Observation::ApplyFailed(message) => Some(("ApplyFailed", message.clone())),
        _ => None,
    };
    update_status(colony, ctx, Some(&keys.public_key), &observation, warning).await?;
    Ok(Action::requeue(RESYNC))
}

/// Applies one namespaced child when it differs from the live object, and
/// notes its kind in `written` when it was written.
async fn apply_child<K>(
    client: &Client,
    namespace: &str,
    desired: &K,
    written: &mut Vec<&str>,
    metrics: &Metrics,
) -> Result<()>
where
    K: k8s_openapi::Resource
        + Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Serialize
        + DeserializeOwned
        + Clone
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let live = get_live(&api, &desired.name_any()).await?;
    let (applied, _) = apply_if_changed(&api, desired, live, metrics).await?;
    note(written, <K as k8s_openapi::Resource>::KIND, applied);
    Ok(())
}

fn note<'a>(written: &mut Vec<&'a str>, kind: &'a str, applied: Applied) {
    if applied == Applied::Written {
        written.push(kind);
    }
}

/// Patches status only when it differs; a warning Event goes with a changed
/// problem condition (not with every retry).
async fn update_status(
    colony: &Colony,
    ctx: &Context,
    public_key: Option<&str>,
    observation: &Observation,
    warning: Option<(&str, String)>,
) -> Result<()> {
    let now = Time(
        Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now()),
    );
    let status = status::build(colony, public_key, observation, &now);
    if colony.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let namespace = colony
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let api: Api<Colony> = Api::namespaced(ctx.client.clone(), &namespace);
    let patch = serde_json::json!({
        "apiVersion": Colony::api_version(&()),
        "kind": Colony::kind(&()),
        "status": status,
    });
    api.patch_status(
        &colony.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::kube(format!(
        "patch status of Colony {}",
        colony.name_any()
    )))?;
    ctx.metrics.record_write("Colony/status");
    if let Some((reason, message)) = warning {
        publish(ctx, colony, EventType::Warning, reason, message).await;
    }
    Ok(())
}

/// Events are best effort: a failure to record one never fails the reconcile.
async fn publish(ctx: &Context, colony: &Colony, type_: EventType, reason: &str, note: String) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &colony.object_ref(&())).await {
        tracing::warn!(%error, "could not record event");
    } else {
        ctx.metrics.record_write("Event");
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
