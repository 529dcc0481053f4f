//! `kubectl coral …`: the current kubeconfig context, its Colonies and
//! Connections, and each colony's API through the API server's service proxy.

pub mod colony;
pub mod connect;

use coral_crds::Colony;
use kube::api::{Api, ListParams};
use kube::config::KubeConfigOptions;
use kube::{Client, Config, ResourceExt};

use crate::client::ColonyClient;
use crate::error::CliError;

/// The colony API port when a Colony has no status endpoint yet.
const CONNECT_PORT: u16 = 9000;

pub struct Cluster {
    pub client: Client,
    pub namespace: String,
}

impl Cluster {
    pub async fn connect(
        context: Option<&str>,
        namespace: Option<String>,
    ) -> Result<Cluster, CliError> {
        let options = KubeConfigOptions {
            context: context.map(str::to_owned),
            ..Default::default()
        };
        let config = match Config::from_kubeconfig(&options).await {
            Ok(config) => config,
            Err(kubeconfig_error) => {
                if context.is_none()
                    && let Ok(config) = Config::incluster()
                {
                    config
                } else {
                    return Err(CliError::Kube(format!(
                        "no usable kubeconfig: {kubeconfig_error}\n  Set KUBECONFIG or ~/.kube/config (for the local cluster: eval \"$(cargo xtask cluster env)\")"
                    )));
                }
            }
        };
        let namespace = namespace.unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config)
            .map_err(|e| CliError::Kube(format!("cannot build a Kubernetes client: {e}")))?;
        Ok(Cluster { client, namespace })
    }

    pub fn colonies(&self) -> Api<Colony> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The named Colony, or the only one in the namespace.
    pub async fn colony(&self, name: Option<&str>) -> Result<Colony, CliError> {
        let api = self.colonies();
        let ns = &self.namespace;
        if let Some(name) = name {
            return match api.get_opt(name).await {
                Ok(Some(colony)) => Ok(colony),
                Ok(None) => {
                    let names = self.colony_names().await.unwrap_or_default();
                    Err(CliError::Kube(format!(
                        "colony not found: {name} in namespace {ns}\n  {}",
                        match names.as_slice() {
                            [] => format!(
                                "There is no Colony in namespace {ns}: create one (e.g. kubectl apply -f examples/demo/colony.yaml) or pick a namespace with -n"
                            ),
                            _ => format!(
                                "Colonies in namespace {ns}: {} (kubectl coral colony list)",
                                names.join(", ")
                            ),
                        }
                    )))
                }
                Err(error) => Err(kube_error(&format!("reading Colony {name}"), error)),
            };
        }
        let colonies = api
            .list(&ListParams::default())
            .await
            .map_err(|e| kube_error("listing Colonies", e))?
            .items;
        match colonies.len() {
            0 => Err(CliError::Kube(format!(
                "there is no Colony in namespace {ns}\n  Create one (e.g. kubectl apply -f examples/demo/colony.yaml), pick a namespace with -n, or list all: kubectl coral colony list -A"
            ))),
            1 => Ok(colonies.into_iter().next().expect("one colony")),
            _ => Err(CliError::Kube(format!(
                "several Colonies in namespace {ns}: {}; pick one with --colony",
                colonies
                    .iter()
                    .map(|c| c.name_any())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    async fn colony_names(&self) -> Result<Vec<String>, kube::Error> {
        Ok(self
            .colonies()
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .map(|c| c.name_any())
            .collect())
    }

    /// A client of the colony's API through
    /// `/api/v1/namespaces/<ns>/services/<svc>:<port>/proxy/`.
    pub async fn colony_client(
        &self,
        name: Option<&str>,
    ) -> Result<(ColonyClient, String), CliError> {
        let colony = self.colony(name).await?;
        let name = colony.name_any();
        let (service, port) = service_of(&colony);
        let location = format!("in cluster, {}/{name}", self.namespace);
        Ok((
            ColonyClient::ServiceProxy {
                client: self.client.clone(),
                namespace: self.namespace.clone(),
                service,
                port,
                colony: name,
            },
            location,
        ))
    }
}

/// The colony's Service and port, from `status.endpoint`
/// (`<service>.<namespace>.svc:<port>`, published by the operator), else
/// the operator's naming (`<colony>-colony`, port 9000).
pub fn service_of(colony: &Colony) -> (String, String) {
    let from_status = colony
        .status
        .as_ref()
        .and_then(|s| s.endpoint.as_deref())
        .and_then(|endpoint| {
            let (host, port) = endpoint.rsplit_once(':')?;
            let service = host.split('.').next()?;
            (!service.is_empty() && port.parse::<u16>().is_ok())
                .then(|| (service.to_owned(), port.to_owned()))
        });
    from_status.unwrap_or_else(|| {
        (
            format!("{}-colony", colony.name_any()),
            CONNECT_PORT.to_string(),
        )
    })
}

/// A Kubernetes API error, with what to do about the common ones.
pub fn kube_error(doing: &str, error: kube::Error) -> CliError {
    if let kube::Error::Api(status) = &error {
        let missing_type = status.code == 404
            && status
                .message
                .contains("could not find the requested resource");
        if missing_type {
            return CliError::Kube(format!(
                "{doing}: the Coral CRDs are not installed in this cluster\n  Install them: kubectl apply --server-side -f crds/ (or the Helm chart charts/coral)"
            ));
        }
        if status.code == 401 || status.code == 403 {
            return CliError::Kube(format!(
                "{doing}: not allowed ({})\n  Check your kubeconfig user and its RBAC permissions",
                status.message
            ));
        }
        return CliError::Kube(format!("{doing}: {}", status.message));
    }
    CliError::Kube(format!(
        "{doing}: cannot reach the Kubernetes API server: {error}\n  Check your kubeconfig context (kubectl config current-context) and that the cluster is up"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colony(endpoint: Option<&str>) -> Colony {
        let mut colony: Colony = serde_json::from_value(serde_json::json!({
            "apiVersion": "coral.io/v1alpha1", "kind": "Colony",
            "metadata": {"name": "shop", "namespace": "apps"},
            "spec": {"application": "shop", "environment": "prod"}
        }))
        .unwrap();
        if let Some(endpoint) = endpoint {
            colony.status = Some(coral_crds::ColonyStatus {
                endpoint: Some(endpoint.into()),
                ..Default::default()
            });
        }
        colony
    }

    #[test]
    fn service_from_status_or_naming() {
        assert_eq!(
            service_of(&colony(Some("shop-colony.apps.svc:9000"))),
            ("shop-colony".into(), "9000".into())
        );
        assert_eq!(
            service_of(&colony(None)),
            ("shop-colony".into(), "9000".into())
        );
    }
}
