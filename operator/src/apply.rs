//! Server-side apply that writes only when the live object differs from the
//! desired one, so a reconcile of an unchanged world makes no writes.

use std::fmt::Debug;

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::FIELD_MANAGER;
use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// What an apply did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Unchanged,
    Written,
}

/// True when every field set in `desired` has the same value in `live`.
/// Fields the apiserver or other managers added to `live` are ignored; lists
/// must match element by element (our lists are built in a stable order).
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => want.iter().all(|(key, value)| {
            have.get(key)
                .is_some_and(|live_value| is_subset(value, live_value))
        }),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| is_subset(w, h))
        }
        (want, have) => want == have,
    }
}

/// Applies `desired` with the operator's field manager unless `live` already
/// carries every desired field. Returns the object as it now is.
pub async fn apply_if_changed<K>(
    api: &Api<K>,
    desired: &K,
    live: Option<K>,
    metrics: &Metrics,
) -> Result<(Applied, K)>
where
    K: Resource<DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
{
    let name = desired.name_any();
    let kind = K::kind(&()).to_string();
    let desired_value = serde_json::to_value(desired).map_err(|source| Error::Serialize {
        what: "desired object",
        source,
    })?;
    if let Some(live) = live {
        let live_value = serde_json::to_value(&live).map_err(|source| Error::Serialize {
            what: "live object",
            source,
        })?;
        if is_subset(&desired_value, &live_value) {
            return Ok((Applied::Unchanged, live));
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api
        .patch(&name, &params, &Patch::Apply(&desired_value))
        .await
        .map_err(Error::kube(format!("apply {kind} {name}")))?;
    metrics.record_write(&kind);
    tracing::info!(%kind, %name, "applied");
    Ok((Applied::Written, applied))
}

/// Reads an object, treating 404 as absent.
pub async fn get_live<K>(api: &Api<K>, name: &str) -> Result<Option<K>>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
{
    api.get_opt(name)
        .await
        .map_err(Error::kube(format!("get {} {name}", K::kind(&()))))
}

/// Deletes an object if it exists (a read first, so nothing-to-do costs no write).
pub async fn delete_if_present<K>(api: &Api<K>, name: &str, metrics: &Metrics) -> Result<bool>
where
    K: Resource<DynamicType = ()> + DeserializeOwned + Clone + Debug,
{
    let kind = K::kind(&()).to_string();
    if get_live(api, name).await?.is_none() {
        return Ok(false);
    }
    match api.delete(name, &Default::default()).await {
        Ok(_) => {
            metrics.record_write(&kind);
            tracing::info!(%kind, %name, "deleted");
            Ok(true)
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(source) => Err(Error::Kube {
            action: format!("delete {kind} {name}"),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::is_subset;
    use serde_json::json;

    #[test]
    fn extra_live_fields_are_ignored() {
        let desired = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "spec": {"ports": [{"port": 9000}]}});
        let live = json!({"metadata": {"name": "a", "uid": "u", "labels": {"x": "1", "y": "2"}},
                          "spec": {"ports": [{"port": 9000, "protocol": "TCP"}], "clusterIP": "10.0.0.1"}});
        assert!(is_subset(&desired, &live));
    }

    #[test]
    fn changed_or_missing_values_are_detected() {
        let desired = json!({"spec": {"replicas": 1, "ports": [{"port": 9000}, {"port": 3000}]}});
        assert!(!is_subset(
            &desired,
            &json!({"spec": {"replicas": 2, "ports": [{"port": 9000}, {"port": 3000}]}})
        ));
        assert!(!is_subset(
            &desired,
            &json!({"spec": {"replicas": 1, "ports": [{"port": 9000}]}})
        ));
        assert!(!is_subset(&desired, &json!({"spec": {}})));
    }
}
