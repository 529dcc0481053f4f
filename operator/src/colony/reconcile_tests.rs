//! Colony reconcile decisions against a scripted apiserver: which requests
//! each case makes, in order, and what it writes into status.

use coral_crds::{ClickHouseStorage, ColonySpec};
use http::{Method, StatusCode};
use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::*;
use crate::api_server_verifier::{ApiServerVerifier, context, verify};
use crate::context::OperatorConfig;
use crate::keys::{ENROLLMENT_TOKEN, PRIVATE_KEY, PUBLIC_KEY};

const NAMESPACE: &str = "apps";
const IMAGE: &str = "coral/colony:test";

fn colony() -> Colony {
    let spec: ColonySpec = serde_json::from_value(json!({
        "application": "shop", "environment": "prod"
    }))
    .unwrap();
    let mut colony = Colony::new("shop-prod", spec);
    colony.metadata.namespace = Some(NAMESPACE.into());
    colony.metadata.uid = Some("uid-1".into());
    colony.metadata.generation = Some(1);
    colony
}

fn clickhouse_colony() -> Colony {
    let mut colony = colony();
    colony.spec.storage.duckdb = None;
    colony.spec.storage.clickhouse = Some(ClickHouseStorage {
        url: "http://clickhouse:8123".into(),
        database: "coral".into(),
        user: "default".into(),
        password_secret_ref: None,
    });
    colony
}

fn config() -> OperatorConfig {
    OperatorConfig {
        colony_image: IMAGE.into(),
        ..Default::default()
    }
}

fn core(resource: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{NAMESPACE}/{resource}/{name}")
}

fn group(group_version: &str, resource: &str, name: &str) -> String {
    format!("/apis/{group_version}/namespaces/{NAMESPACE}/{resource}/{name}")
}

/// Server-side apply as the operator sends it.
fn applied(path: &str) -> String {
    format!("{path}?&force=true&fieldManager=coral-operator")
}

const KEYS: &str = "shop-prod-colony-keys";
const WORKLOAD: &str = "shop-prod-colony";

/// Expects the status patch of `colony` and answers with the Colony
/// carrying the new status; returns the patch.
async fn status_patch(api: &mut ApiServerVerifier, colony: &Colony) -> Value {
    let uri = applied(&group("coral.io/v1alpha1", "colonies", "shop-prod/status"));
    let colony = serde_json::to_value(colony).unwrap();
    api.reply_with(Method::PATCH, &uri, |patch| {
        let mut patched = colony;
        patched["status"] = patch["status"].clone();
        patched
    })
    .await
}

fn statefulsets() -> String {
    group("apps/v1", "statefulsets", WORKLOAD)
}

fn deployments() -> String {
    group("apps/v1", "deployments", WORKLOAD)
}

/// The condition `type_` of a status patch body, as (status, reason, message).
fn condition(patch: &Value, type_: &str) -> (String, String, String) {
    let found = patch["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {patch}"));
    let text = |field: &str| found[field].as_str().unwrap_or_default().to_string();
    (text("status"), text("reason"), text("message"))
}

/// The keys Secret and every child applied as it is, each read back
/// unchanged: the reconcile writes none of them.
async fn unchanged_children(api: &mut ApiServerVerifier, children: &ColonyChildren) {
    api.ok(Method::GET, &core("secrets", KEYS), &children.keys_secret)
        .await;
    api.ok(
        Method::GET,
        &core("configmaps", "shop-prod-colony-config"),
        &children.config_map,
    )
    .await;
    api.ok(
        Method::GET,
        &core("serviceaccounts", WORKLOAD),
        &children.service_account,
    )
    .await;
    let rbac = "rbac.authorization.k8s.io/v1";
    api.ok(Method::GET, &group(rbac, "roles", WORKLOAD), &children.role)
        .await;
    api.ok(
        Method::GET,
        &group(rbac, "rolebindings", WORKLOAD),
        &children.role_binding,
    )
    .await;
    api.ok(Method::GET, &core("services", WORKLOAD), &children.service)
        .await;
}

#[tokio::test]
async fn a_malformed_keys_secret_degrades_the_colony_and_is_never_rewritten() {
    let (ctx, mut api) = context(config());
    let users_secret = Secret {
        metadata: ObjectMeta {
            name: Some(KEYS.into()),
            namespace: Some(NAMESPACE.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            (PRIVATE_KEY.to_string(), ByteString(b"not a key".to_vec())),
            (PUBLIC_KEY.to_string(), ByteString(b"also not".to_vec())),
            (ENROLLMENT_TOKEN.to_string(), ByteString(b"token".to_vec())),
        ])),
        ..Default::default()
    };
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let colony = Arc::new(colony());
    let scripted = colony.clone();
    let result = verify(reconcile(colony, ctx), async move {
        api.ok(Method::GET, &core("secrets", KEYS), &users_secret)
            .await;
        // No create, apply or delete of the Secret: only the status and a
        // Warning Event, then nothing else.
        let patch = status_patch(&mut api, &scripted).await;
        let event = api.event(NAMESPACE).await;
        sender.send((patch, event)).unwrap();
        api
    })
    .await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    let (patch, event) = receiver.await.unwrap();
    let (status, reason, message) = condition(&patch, "Degraded");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "KeySecretInvalid")
    );
    assert!(
        message.contains("Secret shop-prod-colony-keys is unusable")
            && message.contains("left untouched"),
        "{message}"
    );
    assert_eq!(condition(&patch, "Ready").0, "False");
    assert_eq!(patch["status"].get("meshPublicKey"), None, "{patch}");
    assert_eq!(
        (&event["type"], &event["reason"]),
        (&json!("Warning"), &json!("KeySecretInvalid"))
    );
}

#[tokio::test]
async fn an_unchanged_key_problem_is_not_reported_again() {
    // The status a first reconcile wrote for the same malformed Secret.
    let mut colony = colony();
    let message = format!(
        "Secret {KEYS} is unusable (key \"privateKey\" is missing); it is left untouched. Delete it to have new keys generated (agents then re-enroll)."
    );
    let now = Time(Timestamp::from_second(1_700_000_000).unwrap());
    colony.status = Some(status::build(
        &colony,
        None,
        &Observation::KeySecretInvalid(message),
        &now,
    ));
    let (ctx, mut api) = context(config());
    let result = verify(reconcile(Arc::new(colony), ctx), async move {
        api.ok(Method::GET, &core("secrets", KEYS), &Secret::default())
            .await;
        api
    })
    .await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
}

#[tokio::test]
async fn a_refused_workload_apply_becomes_a_degraded_condition() {
    let colony = colony();
    let keys = ColonyKeys::generate();
    let children = desired::build(&colony, &keys, IMAGE).unwrap();
    let ColonyWorkload::StatefulSet(desired_sts) = children.workload.clone() else {
        panic!("a DuckDB colony has a StatefulSet")
    };
    // The live StatefulSet claims another size: volumeClaimTemplates are
    // immutable, so the apiserver refuses the apply.
    let mut live_sts = desired_sts.clone();
    let claim = &mut live_sts.spec.volume_claim_templates.as_mut().unwrap()[0];
    let requests = claim.spec.as_mut().unwrap().resources.as_mut().unwrap();
    requests
        .requests
        .as_mut()
        .unwrap()
        .insert("storage".into(), Quantity("5Gi".into()));
    let refusal = "StatefulSet.apps \"shop-prod-colony\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
    let (ctx, mut api) = context(config());
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let colony = Arc::new(colony);
    let scripted = colony.clone();
    let result = verify(reconcile(colony, ctx), async move {
        unchanged_children(&mut api, &children).await;
        api.not_found(&deployments()).await;
        api.ok(Method::GET, &statefulsets(), &live_sts).await;
        let sent = api
            .fail(
                Method::PATCH,
                &applied(&statefulsets()),
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                refusal,
            )
            .await;
        assert_eq!(sent, serde_json::to_value(&desired_sts).unwrap());
        let patch = status_patch(&mut api, &scripted).await;
        let event = api.event(NAMESPACE).await;
        sender.send((patch, event)).unwrap();
        api
    })
    .await;
    // A condition for the user, not an error the controller retries at once.
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    let (patch, event) = receiver.await.unwrap();
    let expected = format!("apply StatefulSet shop-prod-colony was refused: {refusal}");
    assert_eq!(
        condition(&patch, "Degraded"),
        ("True".into(), "ApplyFailed".into(), expected.clone())
    );
    assert_eq!(condition(&patch, "Ready").1, "ApplyFailed");
    assert_eq!(
        patch["status"]["meshPublicKey"],
        json!(keys.public_key),
        "the keys stay readable"
    );
    assert_eq!(
        (&event["type"], &event["reason"], &event["note"]),
        (&json!("Warning"), &json!("ApplyFailed"), &json!(expected))
    );
}

#[tokio::test]
async fn a_forbidden_workload_apply_fails_the_reconcile_and_leaves_status_alone() {
    let colony = colony();
    let keys = ColonyKeys::generate();
    let children = desired::build(&colony, &keys, IMAGE).unwrap();
    let (ctx, mut api) = context(config());
    let result = verify(reconcile(Arc::new(colony), ctx), async move {
        unchanged_children(&mut api, &children).await;
        api.not_found(&deployments()).await;
        api.not_found(&statefulsets()).await;
        api.fail(
            Method::PATCH,
            &applied(&statefulsets()),
            StatusCode::FORBIDDEN,
            "Forbidden",
            "statefulsets.apps is forbidden",
        )
        .await;
        api
    })
    .await;
    // Only a 422 is a condition; anything else is retried with backoff.
    match result {
        Err(Error::Kube {
            action,
            source: kube::Error::Api(status),
        }) => {
            assert_eq!(action, "apply StatefulSet shop-prod-colony");
            assert_eq!(status.code, 403);
        }
        other => panic!("expected the 403 as the reconcile's error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_apply_of_another_child_fails_the_reconcile() {
    let colony = colony();
    let children = desired::build(&colony, &ColonyKeys::generate(), IMAGE).unwrap();
    let (ctx, mut api) = context(config());
    let result = verify(reconcile(Arc::new(colony), ctx), async move {
        api.ok(Method::GET, &core("secrets", KEYS), &children.keys_secret)
            .await;
        let config_map = core("configmaps", "shop-prod-colony-config");
        api.not_found(&config_map).await;
        api.fail(
            Method::PATCH,
            &applied(&config_map),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "ConfigMap is invalid",
        )
        .await;
        api
    })
    .await;
    match result {
        Err(Error::Kube {
            action,
            source: kube::Error::Api(status),
        }) => {
            assert_eq!(action, "apply ConfigMap shop-prod-colony-config");
            assert_eq!(status.code, 422);
        }
        other => panic!("expected the 422 as the reconcile's error, got {other:?}"),
    }
}

/// Storage switched: the live workload of the other kind is deleted, the
/// new one applied, and status follows the new one.
async fn switch_storage(
    colony: Colony,
    old_kind_uri: String,
    old_workload: Value,
    new_kind_uri: String,
    announced: &str,
) {
    let keys = ColonyKeys::generate();
    let children = desired::build(&colony, &keys, IMAGE).unwrap();
    let desired_workload = match &children.workload {
        ColonyWorkload::StatefulSet(sts) => serde_json::to_value(sts).unwrap(),
        ColonyWorkload::Deployment(deployment) => serde_json::to_value(deployment).unwrap(),
    };
    let (ctx, mut api) = context(config());
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let colony = Arc::new(colony);
    let scripted = colony.clone();
    let result = verify(reconcile(colony, ctx), async move {
        unchanged_children(&mut api, &children).await;
        api.ok(Method::GET, &old_kind_uri, &old_workload).await;
        api.ok(Method::DELETE, &format!("{old_kind_uri}?"), &old_workload)
            .await;
        api.not_found(&new_kind_uri).await;
        let sent = api.echo(Method::PATCH, &applied(&new_kind_uri)).await;
        assert_eq!(sent, desired_workload);
        let event = api.event(NAMESPACE).await;
        let patch = status_patch(&mut api, &scripted).await;
        sender.send((event, patch)).unwrap();
        api
    })
    .await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    let (event, patch) = receiver.await.unwrap();
    assert_eq!(
        (&event["type"], &event["reason"], &event["note"]),
        (&json!("Normal"), &json!("Applied"), &json!(announced))
    );
    let (ready, reason, _) = condition(&patch, "Ready");
    assert_eq!((ready.as_str(), reason.as_str()), ("False", "PodsNotReady"));
    assert_eq!(condition(&patch, "Progressing").0, "True");
    assert_eq!(condition(&patch, "Degraded").0, "False");
}

#[tokio::test]
async fn switching_to_clickhouse_deletes_the_statefulset_and_applies_a_deployment() {
    let keys = ColonyKeys::generate();
    let ColonyWorkload::StatefulSet(old) =
        desired::build(&colony(), &keys, IMAGE).unwrap().workload
    else {
        panic!("a DuckDB colony has a StatefulSet")
    };
    switch_storage(
        clickhouse_colony(),
        statefulsets(),
        serde_json::to_value(old).unwrap(),
        deployments(),
        "applied deleted StatefulSet, Deployment",
    )
    .await;
}

#[tokio::test]
async fn switching_to_duckdb_deletes_the_deployment_and_applies_a_statefulset() {
    let keys = ColonyKeys::generate();
    let ColonyWorkload::Deployment(old) = desired::build(&clickhouse_colony(), &keys, IMAGE)
        .unwrap()
        .workload
    else {
        panic!("a ClickHouse colony has a Deployment")
    };
    switch_storage(
        colony(),
        deployments(),
        serde_json::to_value(old).unwrap(),
        statefulsets(),
        "applied deleted Deployment, StatefulSet",
    )
    .await;
}

#[tokio::test]
async fn a_new_colony_gets_its_keys_created_once_and_published_in_status() {
    let colony = colony();
    let (ctx, mut api) = context(config());
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let colony = Arc::new(colony);
    let scripted = colony.clone();
    let result = verify(reconcile(colony, ctx), async move {
        api.not_found(&core("secrets", KEYS)).await;
        let created = api
            .echo(
                Method::POST,
                &format!("/api/v1/namespaces/{NAMESPACE}/secrets?&fieldManager=coral-operator"),
            )
            .await;
        let generated = api.event(NAMESPACE).await;
        // Nothing else exists yet: each child is read, then applied.
        for uri in [
            core("configmaps", "shop-prod-colony-config"),
            core("serviceaccounts", WORKLOAD),
            group("rbac.authorization.k8s.io/v1", "roles", WORKLOAD),
            group("rbac.authorization.k8s.io/v1", "rolebindings", WORKLOAD),
            core("services", WORKLOAD),
        ] {
            api.not_found(&uri).await;
            api.echo(Method::PATCH, &applied(&uri)).await;
        }
        api.not_found(&deployments()).await;
        api.not_found(&statefulsets()).await;
        api.echo(Method::PATCH, &applied(&statefulsets())).await;
        let applied_event = api.event(NAMESPACE).await;
        let patch = status_patch(&mut api, &scripted).await;
        sender
            .send((created, generated, applied_event, patch))
            .unwrap();
        api
    })
    .await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    let (created, generated, applied_event, patch) = receiver.await.unwrap();
    let secret: Secret = serde_json::from_value(created).unwrap();
    let keys = ColonyKeys::from_secret_data(secret.data.as_ref().unwrap()).unwrap();
    // The status names the public key of the Secret just created: one set
    // of keys per reconcile.
    assert_eq!(patch["status"]["meshPublicKey"], json!(keys.public_key));
    assert_eq!(generated["reason"], json!("KeysGenerated"));
    assert_eq!(
        applied_event["note"],
        json!("applied ConfigMap, ServiceAccount, Role, RoleBinding, Service, StatefulSet")
    );
}
