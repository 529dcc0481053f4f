//! One object the operator cannot read does not stall the others. Such an
//! object exists when it was stored under an older or looser schema: the
//! test loosens the Connection CRD, stores a Connection whose `component`
//! is a number, restores the real CRD (the apiserver keeps stored objects
//! as they are), then starts the operator. A valid Connection must still be
//! reconciled, and the bad one gets a Warning Event saying what to fix.
//! Needs `cargo xtask cluster up`; fails when the cluster is not reachable.

mod support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use coral_crds::Connection;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Api, Client, CustomResourceExt};
use serde_json::json;

#[tokio::test]
async fn an_unreadable_connection_does_not_stall_the_others() -> Result<()> {
    support::in_fresh_namespaces("unreadable", scenario).await
}

async fn scenario(client: &Client, namespace: &str, agent_namespace: &str) -> Result<()> {
    let stored = store_unreadable_connection(client, namespace).await;
    // Whatever happened, the real CRD goes back for the other tests.
    support::install_crds(client).await?;
    stored?;

    let connections: Api<Connection> = Api::namespaced(client.clone(), namespace);
    let valid: Connection = serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Connection",
        "metadata": {"name": "valid"},
        "spec": {"colonyRef": {"name": "absent"}, "component": "api",
                 "selector": {"matchLabels": {"app": "api"}}}
    }))?;
    connections.create(&PostParams::default(), &valid).await?;

    let mut operator = support::Operator::start(agent_namespace)?;
    let reconciled = support::eventually(
        Duration::from_secs(60),
        "the valid Connection reconciled (ColonyNotFound)",
        || async {
            let status = connections.get("valid").await?.status.unwrap_or_default();
            Ok(status
                .conditions
                .iter()
                .any(|c| c.reason == "ColonyNotFound")
                .then_some(()))
        },
    )
    .await;
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let warned = support::eventually(
        Duration::from_secs(30),
        "a Warning Event Unreadable on the bad Connection",
        || async {
            let list = events
                .list(&ListParams::default().fields("involvedObject.name=unreadable"))
                .await?;
            Ok(list
                .items
                .into_iter()
                .find(|event| event.reason.as_deref() == Some("Unreadable")))
        },
    )
    .await;
    ensure!(operator.is_running(), "the operator exited");
    operator.stop()?;
    reconciled?;
    let event = warned?;
    let note = event.message.unwrap_or_default();
    ensure!(
        note.contains("component") && note.contains("fix the field"),
        "the Event does not say what to fix: {note}"
    );
    Ok(())
}

/// Loosens the Connection CRD's spec, then stores a Connection whose
/// `spec.component` is a number.
async fn store_unreadable_connection(client: &Client, namespace: &str) -> Result<()> {
    let mut crd = Connection::crd();
    let schema = crd.spec.versions[0]
        .schema
        .as_mut()
        .and_then(|s| s.open_api_v3_schema.as_mut())
        .context("the Connection CRD has a schema")?;
    schema.properties.get_or_insert_default().insert(
        "spec".into(),
        JSONSchemaProps {
            type_: Some("object".into()),
            x_kubernetes_preserve_unknown_fields: Some(true),
            ..Default::default()
        },
    );
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        "connections.coral.io",
        &PatchParams::apply("coral-e2e").force(),
        &Patch::Apply(&crd),
    )
    .await
    .context("loosening the Connection CRD")?;

    let resource =
        ApiResource::from_gvk(&GroupVersionKind::gvk("coral.io", "v1alpha1", "Connection"));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let unreadable: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Connection",
        "metadata": {"name": "unreadable"},
        "spec": {"colonyRef": {"name": "absent"}, "component": 42,
                 "selector": {"matchLabels": {"app": "x"}}}
    }))?;
    // The apiserver picks up the looser schema a moment after the update.
    support::eventually(
        Duration::from_secs(30),
        "the looser schema to accept the bad Connection",
        || async {
            Ok(api
                .create(&PostParams::default(), &unreadable)
                .await
                .ok()
                .map(|_| ()))
        },
    )
    .await
}
