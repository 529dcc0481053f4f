//! The Argo CD health checks in examples/gitops/argocd/health-checks.yaml,
//! run in Lua 5.1 (the dialect of Argo CD's gopher-lua) against statuses made
//! by the operator's own status builders, so a renamed condition or reason
//! breaks this test rather than users' dashboards.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use coral_operator::colony::status::{Observation, WorkloadReadiness, build};
use coral_operator::conditions::{self, ConditionState, DEGRADED, PROGRESSING, READY};
use coral_operator::connection::resolve::{Resolution, build_status};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use mlua::{Lua, LuaSerdeExt};
use serde_json::{Value, json};

fn checks() -> Result<BTreeMap<String, String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/gitops/argocd/health-checks.yaml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    #[derive(serde::Deserialize)]
    struct ConfigMapPatch {
        data: BTreeMap<String, String>,
    }
    Ok(serde_yaml::from_str::<ConfigMapPatch>(&text)?.data)
}

/// Runs the health check for `kind` on `object`; (status, message).
fn health(kind: &str, object: &Value) -> Result<(String, String)> {
    let script = checks()?
        .remove(&format!("resource.customizations.health.coral.io_{kind}"))
        .with_context(|| format!("no health check for {kind}"))?;
    // mlua's errors are not Send; keep their text.
    let lua_error = |e: mlua::Error| anyhow::anyhow!("{kind} health check: {e}");
    let lua = Lua::new();
    let value = lua.to_value(object).map_err(lua_error)?;
    lua.globals().set("obj", value).map_err(lua_error)?;
    let hs: mlua::Table = lua
        .load(format!("return (function()\n{script}\nend)()"))
        .eval()
        .map_err(lua_error)?;
    let status: String = hs.get("status").map_err(lua_error)?;
    let message: Option<String> = hs.get("message").map_err(lua_error)?;
    Ok((status, message.unwrap_or_default()))
}

fn now() -> Time {
    Time(Timestamp::from_second(1_800_000_000).expect("valid"))
}

fn colony_with(observation: Option<Observation>, generation: i64, observed: i64) -> Result<Value> {
    let mut colony: coral_crds::Colony = serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Colony",
        "metadata": {"name": "shop", "namespace": "demo", "generation": observed},
        "spec": {"application": "shop", "environment": "dev"}
    }))?;
    if let Some(observation) = observation {
        colony.status = Some(build(&colony, Some("key"), &observation, &now()));
    }
    colony.metadata.generation = Some(generation);
    Ok(serde_json::to_value(&colony)?)
}

#[test]
fn colony_health_follows_the_operator_conditions() -> Result<()> {
    let ready = WorkloadReadiness {
        ready: true,
        message: "1/1 pods ready".into(),
    };
    let rolling = WorkloadReadiness {
        ready: false,
        message: "0/1 pods ready".into(),
    };
    let cases = [
        (None, 1, "Progressing"),
        (Some(Observation::Applied(ready.clone())), 1, "Healthy"),
        (Some(Observation::Applied(rolling)), 1, "Progressing"),
        (
            Some(Observation::KeySecretInvalid(
                "Secret shop-colony-keys is unusable".into(),
            )),
            1,
            "Degraded",
        ),
        (
            Some(Observation::ApplyFailed(
                "StatefulSet field is immutable".into(),
            )),
            1,
            "Degraded",
        ),
        // Ready, but for an older spec: not Healthy yet.
        (Some(Observation::Applied(ready)), 2, "Progressing"),
    ];
    for (observation, generation, expected) in cases {
        let object = colony_with(observation.clone(), generation, 1)?;
        let (status, message) = health("Colony", &object)?;
        assert_eq!(
            status, expected,
            "{observation:?} (generation {generation}): {message}"
        );
        assert!(!message.is_empty(), "{observation:?}: no message");
    }
    let degraded = colony_with(
        Some(Observation::ApplyFailed(
            "StatefulSet field is immutable".into(),
        )),
        1,
        1,
    )?;
    assert!(
        health("Colony", &degraded)?.1.contains("immutable"),
        "the Degraded message is the condition's"
    );
    Ok(())
}

#[test]
fn reef_health_follows_the_operator_conditions() -> Result<()> {
    // The Reef reconciler's condition sets (operator/src/reef/reconcile.rs).
    let sets: [(&[ConditionState], &str); 3] = [
        (
            &[
                ConditionState::new(READY, true, "Ready", "1/1 pods ready"),
                ConditionState::new(
                    PROGRESSING,
                    false,
                    "Complete",
                    "all children are up to date",
                ),
                ConditionState::new(DEGRADED, false, "AsExpected", "no problems found"),
            ],
            "Healthy",
        ),
        (
            &[
                ConditionState::new(READY, false, "PodsNotReady", "0/1 pods ready"),
                ConditionState::new(PROGRESSING, true, "RollingOut", "0/1 pods ready"),
                ConditionState::new(DEGRADED, false, "AsExpected", "no problems found"),
            ],
            "Progressing",
        ),
        (
            &[
                ConditionState::new(
                    READY,
                    false,
                    "ClickHouseSecretNotFound",
                    "Secret ch not found",
                ),
                ConditionState::new(PROGRESSING, false, "ClickHouseSecretNotFound", "waiting"),
                ConditionState::new(
                    DEGRADED,
                    true,
                    "ClickHouseSecretNotFound",
                    "Secret ch not found",
                ),
            ],
            "Degraded",
        ),
    ];
    for (states, expected) in sets {
        let conditions = conditions::merge(&[], states, Some(1), &now());
        let object = json!({
            "apiVersion": "coral.io/v1alpha1", "kind": "Reef",
            "metadata": {"name": "global", "namespace": "demo", "generation": 1},
            "status": {"observedGeneration": 1, "conditions": conditions},
        });
        assert_eq!(health("Reef", &object)?.0, expected, "{object}");
    }
    let fresh = json!({"apiVersion": "coral.io/v1alpha1", "kind": "Reef", "metadata": {"name": "r", "generation": 1}});
    assert_eq!(health("Reef", &fresh)?.0, "Progressing");
    Ok(())
}

#[test]
fn connection_health_follows_the_resolution() -> Result<()> {
    let connection: coral_crds::Connection = serde_json::from_value(json!({
        "apiVersion": "coral.io/v1alpha1", "kind": "Connection",
        "metadata": {"name": "api", "namespace": "demo", "generation": 1},
        "spec": {"colonyRef": {"name": "shop"}, "component": "api",
                 "selector": {"matchLabels": {"app": "api"}}, "ports": [{"port": 8080}]}
    }))?;
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "api-0", "namespace": "demo", "labels": {"app": "api"}},
        "status": {"phase": "Running"}
    }))?;
    let cases = [
        (Resolution::Pods(vec![pod]), "Healthy"),
        (Resolution::Pods(Vec::new()), "Progressing"),
        (Resolution::ColonyNotFound("demo".into()), "Degraded"),
        (
            Resolution::WorkloadNotFound("Deployment \"api\"".into()),
            "Degraded",
        ),
        (
            Resolution::InvalidSelector("bad operator".into()),
            "Degraded",
        ),
    ];
    for (resolution, expected) in cases {
        let mut object = connection.clone();
        object.status = Some(build_status(&connection, &resolution, &now()));
        let (status, message) = health("Connection", &serde_json::to_value(&object)?)?;
        assert_eq!(status, expected, "{resolution:?}: {message}");
        assert!(!message.is_empty());
    }
    let fresh = serde_json::to_value(&connection)?;
    assert_eq!(health("Connection", &fresh)?.0, "Progressing");
    Ok(())
}
