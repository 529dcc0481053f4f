//! The real apiserver refuses invalid specs with a message naming the field,
//! and applies the schema defaults. Needs the local cluster
//! (`cargo xtask cluster up`); fails when it is not reachable.

mod support;

use anyhow::{Result, bail};
use coral_crds::Colony;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

async fn create(api: &Api<Colony>, name: &str, spec: Value) -> Result<Colony, String> {
    let colony: Colony = match serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Colony", "metadata": {"name": name}, "spec": spec
    })) {
        Ok(colony) => colony,
        // Specs the Rust type cannot even hold go through the dynamic path.
        Err(_) => return create_raw(api, name, spec).await,
    };
    api.create(&PostParams::default(), &colony)
        .await
        .map_err(|e| e.to_string())
}

async fn create_raw(api: &Api<Colony>, name: &str, spec: Value) -> Result<Colony, String> {
    let body = json!({"apiVersion": "coral.io/v1alpha1", "kind": "Colony", "metadata": {"name": name}, "spec": spec});
    api.patch(name, &PatchParams::apply("coral-e2e"), &Patch::Apply(&body))
        .await
        .map_err(|e| e.to_string())
}

fn expect_refused(result: Result<Colony, String>, needles: &[&str]) -> Result<()> {
    match result {
        Ok(_) => bail!("the apiserver accepted a spec it should refuse (expected {needles:?})"),
        Err(message) => {
            for needle in needles {
                if !message.contains(needle) {
                    bail!("refusal does not mention {needle:?}: {message}");
                }
            }
            Ok(())
        }
    }
}

#[tokio::test]
async fn invalid_colony_specs_are_refused_naming_the_field() -> Result<()> {
    let client = support::client().await?;
    support::install_crds(&client).await?;
    let namespace = support::namespace(&client, "crd-validation").await?;
    let api: Api<Colony> = Api::namespaced(client.clone(), &namespace);
    let result = async {
        let base = |extra: Value| {
            let mut spec = json!({"application": "shop", "environment": "prod"});
            spec.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            spec
        };
        expect_refused(
            create_raw(
                &api,
                "both-backends",
                base(json!({"storage": {"duckdb": {}, "clickhouse": {"url": "http://ch:8123"}}})),
            )
            .await,
            &[
                "spec.storage",
                "exactly one of spec.storage.duckdb or spec.storage.clickhouse",
            ],
        )?;
        expect_refused(
            create_raw(&api, "no-backend", base(json!({"storage": {}}))).await,
            &["spec.storage", "exactly one"],
        )?;
        expect_refused(
            create_raw(
                &api,
                "short-hours",
                base(json!({"retention": {"flowDays": 14, "hourlyFlowDays": 7}})),
            )
            .await,
            &["spec.retention", "hourlyFlowDays must be at least"],
        )?;
        expect_refused(
            create_raw(
                &api,
                "bad-cidr",
                base(json!({"mesh": {"ipv4CIDR": "10.42.0.0/99"}})),
            )
            .await,
            &["spec.mesh.ipv4CIDR"],
        )?;
        expect_refused(
            create_raw(
                &api,
                "v6-as-v4",
                base(json!({"mesh": {"ipv4CIDR": "fd42::/64"}})),
            )
            .await,
            &["spec.mesh.ipv4CIDR"],
        )?;
        expect_refused(
            create_raw(&api, "bad-port", base(json!({"mesh": {"port": 70000}}))).await,
            &["spec.mesh.port"],
        )?;
        expect_refused(
            create_raw(
                &api,
                "bad-dashboard-port",
                base(json!({"dashboard": {"port": 0}})),
            )
            .await,
            &["spec.dashboard.port"],
        )?;
        expect_refused(
            create_raw(&api, "no-env", json!({"application": "shop"})).await,
            &["spec.environment", "Required value"],
        )?;
        expect_refused(
            create_raw(
                &api,
                "bad-url",
                base(json!({"storage": {"clickhouse": {"url": "not a url"}}})),
            )
            .await,
            &["spec.storage.clickhouse.url"],
        )?;

        // Only the two required fields: valid, and defaults filled in by the apiserver.
        let colony = create(
            &api,
            "minimal",
            json!({"application": "shop", "environment": "prod"}),
        )
        .await
        .map_err(anyhow::Error::msg)?;
        let spec = &colony.spec;
        if spec.storage.duckdb.as_ref().map(|d| d.size.as_str()) != Some("10Gi")
            || spec.storage.clickhouse.is_some()
        {
            bail!(
                "a minimal Colony did not default to DuckDB storage: {:?}",
                spec.storage
            );
        }
        if (
            spec.mesh.ipv4_cidr.as_str(),
            spec.mesh.port,
            spec.dashboard.port,
        ) != ("10.42.0.0/16", 41580, 3000)
        {
            bail!(
                "mesh/dashboard defaults missing: {:?} {:?}",
                spec.mesh,
                spec.dashboard
            );
        }

        // The mesh CIDR is immutable once set.
        let change = json!({"spec": {"mesh": {"ipv4CIDR": "10.43.0.0/16"}}});
        let refused = api
            .patch("minimal", &PatchParams::default(), &Patch::Merge(&change))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        match refused {
            Ok(()) => bail!("changing spec.mesh.ipv4CIDR was accepted"),
            Err(message)
                if message.contains("spec.mesh.ipv4CIDR") && message.contains("immutable") => {}
            Err(message) => bail!("unexpected refusal text: {message}"),
        }
        Ok(())
    }
    .await;
    support::delete_namespace(&client, &namespace).await;
    result
}
