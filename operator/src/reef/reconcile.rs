//! One Reef reconcile: signing key (created once) → ClickHouse Secret
//! present? → children → status. A missing Secret is a condition.

use std::sync::Arc;
use std::time::{Duration, Instant};

use coral_crds::{Colony, Reef, ReefStatus};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};

use super::SIGNING_KEY;
use super::desired::{self, ReefChildren, generate_signing_key};
use crate::FIELD_MANAGER;
use crate::apply::{apply_if_changed, delete_if_present, get_live};
use crate::colony::status::WorkloadReadiness;
use crate::conditions::{self, ConditionState, DEGRADED, PROGRESSING, READY};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::labels;

pub const CONTROLLER: &str = "reef";
const RESYNC: Duration = Duration::from_secs(300);
/// While a referenced Secret is missing, look again this often.
const MISSING_REFERENCE_RETRY: Duration = Duration::from_secs(30);

pub async fn reconcile(reef: Arc<Reef>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_reef(&reef, &ctx).await;
    ctx.metrics.record_reconcile(CONTROLLER, started.elapsed());
    if result.is_ok() {
        ctx.reset_backoff(&backoff_key(&reef));
    }
    result
}

pub fn error_policy(reef: Arc<Reef>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.record_error(CONTROLLER);
    let delay = ctx.next_backoff(&backoff_key(&reef));
    tracing::warn!(reef = %backoff_key(&reef), %error, retry_in = ?delay, "reef reconcile failed");
    Action::requeue(delay)
}

fn backoff_key(reef: &Reef) -> String {
    format!(
        "reef/{}/{}",
        reef.namespace().unwrap_or_default(),
        reef.name_any()
    )
}

async fn reconcile_reef(reef: &Reef, ctx: &Context) -> Result<Action> {
    if reef.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = reef
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let name = reef.name_any();
    let client = ctx.client.clone();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);

    let clickhouse_secret = &reef.spec.clickhouse.secret_ref.name;
    if get_live(&secrets, clickhouse_secret).await?.is_none() {
        let message = format!(
            "Secret {clickhouse_secret:?} named by spec.clickhouse.secretRef does not exist in namespace {namespace:?}; create it with keys url, user and password"
        );
        update_status(
            reef,
            ctx,
            &[
                ConditionState::new(READY, false, "ClickHouseSecretNotFound", message.clone()),
                ConditionState::new(
                    PROGRESSING,
                    false,
                    "ClickHouseSecretNotFound",
                    "waiting for the Secret",
                ),
                ConditionState::new(DEGRADED, true, "ClickHouseSecretNotFound", message),
            ],
            0,
            Vec::new(),
        )
        .await?;
        return Ok(Action::requeue(MISSING_REFERENCE_RETRY));
    }

    let key_name = labels::reef_signing_key_name(&name);
    let live_key = get_live(&secrets, &key_name).await?;
    let existing_key = live_key
        .as_ref()
        .and_then(|secret| secret.data.as_ref()?.get(SIGNING_KEY))
        .and_then(|bytes| String::from_utf8(bytes.0.clone()).ok());
    let (signing_key, generated) = match existing_key {
        Some(key) => (key, false),
        None if live_key.is_some() => {
            let message = format!(
                "Secret {key_name} has no {SIGNING_KEY:?}; delete it to have a new key generated (issued tokens then stop working)"
            );
            update_status(
                reef,
                ctx,
                &[
                    ConditionState::new(READY, false, "SigningKeyInvalid", message.clone()),
                    ConditionState::new(
                        PROGRESSING,
                        false,
                        "SigningKeyInvalid",
                        "waiting for the problem to be fixed",
                    ),
                    ConditionState::new(DEGRADED, true, "SigningKeyInvalid", message),
                ],
                0,
                Vec::new(),
            )
            .await?;
            return Ok(Action::requeue(RESYNC));
        }
        None => (generate_signing_key(), true),
    };

    // Built once, from the key read or just generated. Every child is named
    // here, so one that is built but never applied does not compile.
    let ReefChildren {
        signing_key: signing_key_secret,
        deployment,
        service,
        ingress,
    } = desired::build(reef, &signing_key, &ctx.config.reef_image)?;
    if generated {
        // Created only when there was none; an existing signing-key Secret
        // is never written (`create` fails if another writer got there
        // first, and the retry then reads that one).
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        secrets
            .create(&params, &signing_key_secret)
            .await
            .map_err(Error::kube(format!("create Secret {key_name}")))?;
        ctx.metrics.record_write("Secret");
        publish(
            ctx,
            reef,
            "SigningKeyGenerated",
            format!("generated the token-signing key in Secret {key_name}"),
        )
        .await;
    }

    let metrics = &ctx.metrics;
    let workload_name = labels::reef_workload_name(&name);
    let services: Api<Service> = Api::namespaced(client.clone(), &namespace);
    let live = get_live(&services, &workload_name).await?;
    apply_if_changed(&services, &service, live, metrics).await?;
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), &namespace);
    match &ingress {
        Some(ingress) => {
            let live = get_live(&ingresses, &workload_name).await?;
            apply_if_changed(&ingresses, ingress, live, metrics).await?;
        }
        None => {
            delete_if_present(&ingresses, &workload_name, metrics).await?;
        }
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let live = get_live(&deployments, &workload_name).await?;
    let (_, deployment) = apply_if_changed(&deployments, &deployment, live, metrics).await?;
    let readiness = WorkloadReadiness::of_deployment(&deployment);

    let federated = federated_colonies(reef, ctx, &namespace).await?;
    let wanted = if readiness.ready {
        vec![
            ConditionState::new(READY, true, "Ready", readiness.message.clone()),
            ConditionState::new(
                PROGRESSING,
                false,
                "Complete",
                "all children are up to date",
            ),
            ConditionState::new(DEGRADED, false, "AsExpected", "no problems found"),
        ]
    } else {
        vec![
            ConditionState::new(READY, false, "PodsNotReady", readiness.message.clone()),
            ConditionState::new(PROGRESSING, true, "RollingOut", readiness.message.clone()),
            ConditionState::new(DEGRADED, false, "AsExpected", "no problems found"),
        ]
    };
    let count = i32::try_from(federated.len()).unwrap_or(i32::MAX);
    update_status(reef, ctx, &wanted, count, federated).await?;
    Ok(Action::requeue(RESYNC))
}

/// Colonies in the Reef's namespace matching `colonySelector` (all when unset).
async fn federated_colonies(reef: &Reef, ctx: &Context, namespace: &str) -> Result<Vec<String>> {
    let mut params = ListParams::default();
    if let Some(selector) = &reef.spec.colony_selector {
        match Selector::try_from(selector.clone()) {
            Ok(selector) => params = params.labels_from(&selector),
            Err(_) => return Ok(Vec::new()),
        }
    }
    let colonies: Api<Colony> = Api::namespaced(ctx.client.clone(), namespace);
    let list = colonies
        .list_metadata(&params)
        .await
        .map_err(Error::kube(format!("list Colonies in {namespace}")))?;
    let mut names: Vec<String> = list
        .items
        .iter()
        .map(|c| format!("{namespace}/{}", c.name_any()))
        .collect();
    names.sort();
    Ok(names)
}

async fn update_status(
    reef: &Reef,
    ctx: &Context,
    wanted: &[ConditionState],
    colonies: i32,
    federated: Vec<String>,
) -> Result<()> {
    let existing = reef.status.clone().unwrap_or_default();
    let now = Time(
        Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now()),
    );
    let status = ReefStatus {
        conditions: conditions::merge(&existing.conditions, wanted, reef.metadata.generation, &now),
        observed_generation: reef.metadata.generation,
        endpoint: Some(desired::endpoint(reef)),
        colonies,
        federated_colonies: federated,
    };
    if reef.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let namespace = reef
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let api: Api<Reef> = Api::namespaced(ctx.client.clone(), &namespace);
    let patch = serde_json::json!({"apiVersion": Reef::api_version(&()), "kind": Reef::kind(&()), "status": status});
    api.patch_status(
        &reef.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::kube(format!(
        "patch status of Reef {}",
        reef.name_any()
    )))?;
    ctx.metrics.record_write("Reef/status");
    Ok(())
}

async fn publish(ctx: &Context, reef: &Reef, reason: &str, note: String) {
    let event = Event {
        type_: EventType::Normal,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(error) = ctx.recorder.publish(&event, &reef.object_ref(&())).await {
        tracing::warn!(%error, "could not record event");
    } else {
        ctx.metrics.record_write("Event");
    }
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
