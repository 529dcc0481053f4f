//! Reef reconcile decisions against a scripted apiserver: which requests
//! each case makes, in order, and what it writes into status.

use coral_crds::ReefSpec;
use http::Method;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Value, json};

use super::*;
use crate::api_server_verifier::{ApiServerVerifier, context, verify};
use crate::context::OperatorConfig;

const NAMESPACE: &str = "coral";
const SIGNING_KEY_SECRET: &str = "global-reef-signing-key";
const WORKLOAD: &str = "global-reef";

fn reef() -> Arc<Reef> {
    let spec: ReefSpec =
        serde_json::from_value(json!({"clickhouse": {"secretRef": {"name": "ch"}}})).unwrap();
    let mut reef = Reef::new("global", spec);
    reef.metadata.namespace = Some(NAMESPACE.into());
    reef.metadata.uid = Some("uid-r".into());
    reef.metadata.generation = Some(1);
    Arc::new(reef)
}

fn secret(name: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(NAMESPACE.into()),
            ..Default::default()
        },
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

/// Expects the status patch of `reef` and answers with the Reef carrying
/// the new status; returns the patch.
async fn status_patch(api: &mut ApiServerVerifier, reef: &Reef) -> Value {
    let uri = applied(&group("coral.io/v1alpha1", "reefs", "global/status"));
    let reef = serde_json::to_value(reef).unwrap();
    api.reply_with(Method::PATCH, &uri, |patch| {
        let mut patched = reef;
        patched["status"] = patch["status"].clone();
        patched
    })
    .await
}

fn condition_reason(patch: &Value, type_: &str) -> (String, String) {
    let found = patch["status"]["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {patch}"));
    (
        found["status"].as_str().unwrap().to_string(),
        found["reason"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn a_missing_clickhouse_secret_is_a_condition_and_nothing_is_created() {
    let (ctx, mut api) = context(OperatorConfig::default());
    let reef = reef();
    let scripted = reef.clone();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let result = verify(reconcile(reef, ctx), async move {
        api.not_found(&core("secrets", "ch")).await;
        let patch = status_patch(&mut api, &scripted).await;
        sender.send(patch).unwrap();
        api
    })
    .await;
    assert_eq!(result.unwrap(), Action::requeue(MISSING_REFERENCE_RETRY));
    let patch = receiver.await.unwrap();
    assert_eq!(
        condition_reason(&patch, "Degraded"),
        ("True".into(), "ClickHouseSecretNotFound".into())
    );
}

#[tokio::test]
async fn a_signing_key_secret_without_the_key_is_a_condition_and_never_rewritten() {
    let (ctx, mut api) = context(OperatorConfig::default());
    let reef = reef();
    let scripted = reef.clone();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let result = verify(reconcile(reef, ctx), async move {
        api.ok(Method::GET, &core("secrets", "ch"), &secret("ch"))
            .await;
        api.ok(
            Method::GET,
            &core("secrets", SIGNING_KEY_SECRET),
            &secret(SIGNING_KEY_SECRET),
        )
        .await;
        // No write of the Secret: only the status.
        let patch = status_patch(&mut api, &scripted).await;
        sender.send(patch).unwrap();
        api
    })
    .await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    let patch = receiver.await.unwrap();
    assert_eq!(
        condition_reason(&patch, "Degraded"),
        ("True".into(), "SigningKeyInvalid".into())
    );
}

#[tokio::test]
async fn a_new_reef_gets_its_signing_key_created_once_then_its_children() {
    let (ctx, mut api) = context(OperatorConfig::default());
    let reef = reef();
    let scripted = reef.clone();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let result = verify(reconcile(reef, ctx), async move {
        api.ok(Method::GET, &core("secrets", "ch"), &secret("ch"))
            .await;
        api.not_found(&core("secrets", SIGNING_KEY_SECRET)).await;
        let created = api
            .echo(
                Method::POST,
                &format!("/api/v1/namespaces/{NAMESPACE}/secrets?&fieldManager=coral-operator"),
            )
            .await;
        let event = api.event(NAMESPACE).await;
        let services = core("services", WORKLOAD);
        api.not_found(&services).await;
        api.echo(Method::PATCH, &applied(&services)).await;
        // No public endpoint: an Ingress would be deleted, and there is none.
        api.not_found(&group("networking.k8s.io/v1", "ingresses", WORKLOAD))
            .await;
        let deployments = group("apps/v1", "deployments", WORKLOAD);
        api.not_found(&deployments).await;
        let deployment = api.echo(Method::PATCH, &applied(&deployments)).await;
        api.ok(
            Method::GET,
            &format!("/apis/coral.io/v1alpha1/namespaces/{NAMESPACE}/colonies?"),
            &json!({
                "apiVersion": "meta.k8s.io/v1",
                "kind": "PartialObjectMetadataList",
                "metadata": {"resourceVersion": "1"},
                "items": [],
            }),
        )
        .await;
        let patch = status_patch(&mut api, &scripted).await;
        sender.send((created, event, deployment, patch)).unwrap();
        api
    })
    .await;
    assert_eq!(result.unwrap(), Action::requeue(RESYNC));
    let (created, event, deployment, patch) = receiver.await.unwrap();
    let created: Secret = serde_json::from_value(created).unwrap();
    assert_eq!(created.metadata.name.as_deref(), Some(SIGNING_KEY_SECRET));
    assert!(created.data.unwrap().contains_key(SIGNING_KEY));
    assert_eq!(event["reason"], json!("SigningKeyGenerated"));
    assert_eq!(
        deployment["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"],
        json!(SIGNING_KEY_SECRET)
    );
    assert_eq!(
        condition_reason(&patch, "Ready"),
        ("False".into(), "PodsNotReady".into())
    );
}
