//! Coral's CRDs on the shared local cluster, applied from the Rust types so
//! a test always runs against the schema it was built with.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, CustomResourceExt};

use crate::poll_until;

/// Server-side applies Colony, Connection and Reef and waits until they are
/// served.
pub async fn install_crds(client: &Client) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crds = [
        coral_crds::Colony::crd(),
        coral_crds::Connection::crd(),
        coral_crds::Reef::crd(),
    ];
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(
            &name,
            &PatchParams::apply("coral-e2e").force(),
            &Patch::Apply(crd),
        )
        .await
        .with_context(|| format!("installing CRD {name}"))?;
    }
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        poll_until(
            &format!("CRD {name} established"),
            Duration::from_secs(30),
            || {
                let (api, name) = (api.clone(), name.clone());
                async move {
                    let crd = api.get(&name).await?;
                    let established = crd
                        .status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Established" && c.status == "True");
                    anyhow::Ok(if established { Ok(()) } else { Err("not yet") })
                }
            },
        )
        .await?;
    }
    // Discovery of new CRDs lags establishment a little.
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}
