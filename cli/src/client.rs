//! A Connect-JSON client of `coral.colony.v1.ColonyService`, either straight
//! to a colony's connect port (`coral`) or through the Kubernetes API
//! server's service proxy (`kubectl coral`).

use std::time::Duration;

use coral_proto::colony::v1::{
    GetStatusRequest, GetStatusResponse, GetTopologyRequest, GetTopologyResponse,
    ListAgentsRequest, ListAgentsResponse, ListComponentsRequest, ListComponentsResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::CliError;

const SERVICE: &str = "coral.colony.v1.ColonyService";
const TIMEOUT: Duration = Duration::from_secs(30);

pub enum ColonyClient {
    /// `POST <url>/coral.colony.v1.ColonyService/<Method>`.
    Direct {
        url: String,
        /// Colony id for "not running" errors.
        colony_id: String,
        http: reqwest::Client,
    },
    /// `POST /api/v1/namespaces/<ns>/services/<svc>:connect/proxy/<Service>/<Method>`.
    ServiceProxy {
        client: kube::Client,
        namespace: String,
        service: String,
        port: String,
        /// The Colony's name, for errors.
        colony: String,
    },
}

impl ColonyClient {
    pub fn direct(url: &str, colony_id: &str) -> Result<ColonyClient, CliError> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| CliError::Io(format!("cannot build an HTTP client: {e}")))?;
        Ok(ColonyClient::Direct {
            url: url.trim_end_matches('/').to_owned(),
            colony_id: colony_id.to_owned(),
            http,
        })
    }

    pub async fn get_status(&self) -> Result<GetStatusResponse, CliError> {
        self.call("GetStatus", &GetStatusRequest {}).await
    }

    pub async fn list_agents(&self) -> Result<ListAgentsResponse, CliError> {
        self.call("ListAgents", &ListAgentsRequest {}).await
    }

    pub async fn list_components(&self) -> Result<ListComponentsResponse, CliError> {
        self.call("ListComponents", &ListComponentsRequest::default())
            .await
    }

    pub async fn get_topology(
        &self,
        request: &GetTopologyRequest,
    ) -> Result<GetTopologyResponse, CliError> {
        self.call("GetTopology", request).await
    }

    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<Resp, CliError> {
        let body = serde_json::to_vec(request).map_err(|e| CliError::Io(e.to_string()))?;
        let (status, text) = match self {
            ColonyClient::Direct {
                url,
                colony_id,
                http,
            } => {
                let response = http
                    .post(format!("{url}/{SERVICE}/{method}"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map_err(|error| direct_error(url, colony_id, &error))?;
                let status = response.status().as_u16();
                let text = response
                    .text()
                    .await
                    .map_err(|error| direct_error(url, colony_id, &error))?;
                (status, text)
            }
            ColonyClient::ServiceProxy {
                client,
                namespace,
                service,
                port,
                colony,
            } => {
                let path = format!(
                    "/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/{SERVICE}/{method}"
                );
                let request = http::Request::post(path)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(body))
                    .map_err(|e| CliError::Io(e.to_string()))?;
                let response = tokio::time::timeout(TIMEOUT, client.send(request))
                    .await
                    .map_err(|_| {
                        CliError::Kube(format!(
                            "the API server did not answer within {}s (reaching colony {colony})",
                            TIMEOUT.as_secs()
                        ))
                    })?
                    .map_err(|error| {
                        CliError::Kube(format!(
                            "cannot reach the Kubernetes API server: {error}\n  Check your kubeconfig context (`kubectl config current-context`)"
                        ))
                    })?;
                let status = response.status().as_u16();
                let bytes = response
                    .into_body()
                    .collect_bytes()
                    .await
                    .map_err(|e| CliError::Kube(format!("reading the proxied answer: {e}")))?;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if !is_connect_answer(status, &text) {
                    return Err(proxy_error(status, &text, namespace, colony, service));
                }
                (status, text)
            }
        };
        if status == 200 {
            return serde_json::from_str(&text).map_err(|error| CliError::Api {
                method: method.to_owned(),
                code: "bad_response".into(),
                message: format!("{error} in {}", truncate(&text)),
            });
        }
        let (code, message) = connect_error(status, &text);
        Err(CliError::Api {
            method: method.to_owned(),
            code,
            message,
        })
    }
}

fn direct_error(url: &str, colony_id: &str, error: &reqwest::Error) -> CliError {
    let addr = url
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_owned();
    if error.is_connect() && !error.is_timeout() {
        return CliError::ColonyNotRunning {
            id: colony_id.to_owned(),
            addr,
        };
    }
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        reason.push_str(": ");
        reason.push_str(&inner.to_string());
        source = inner.source();
    }
    CliError::Unreachable {
        url: url.to_owned(),
        reason,
    }
}

/// A colony answers 200 with a message or a Connect error body
/// (`{"code": …}`); anything else came from the API server's proxy.
fn is_connect_answer(status: u16, text: &str) -> bool {
    if status == 200 {
        return true;
    }
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str().map(|_| ())))
        .is_some()
}

fn proxy_error(status: u16, text: &str, namespace: &str, colony: &str, service: &str) -> CliError {
    let message = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str().map(str::to_owned)))
        .unwrap_or_else(|| truncate(text));
    let hint = match status {
        404 => format!(
            "the Service {service} does not exist in namespace {namespace}; is the operator running? See `kubectl coral colony status {colony} -n {namespace}`"
        ),
        401 | 403 => "your kubeconfig user may not proxy to services (RBAC: services/proxy create)"
            .to_owned(),
        _ => format!(
            "the colony {colony} has no ready pod answering yet; see `kubectl coral colony status {colony} -n {namespace}`"
        ),
    };
    CliError::Kube(format!(
        "cannot reach colony {colony} in namespace {namespace} through the API server ({status}: {message})\n  {hint}"
    ))
}

/// Code and message of a Connect error body, or the HTTP status.
fn connect_error(status: u16, text: &str) -> (String, String) {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => (
            value["code"].as_str().unwrap_or("unknown").to_owned(),
            value["message"].as_str().unwrap_or_default().to_owned(),
        ),
        Err(_) => (format!("HTTP {status}"), truncate(text)),
    }
}

fn truncate(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_error_bodies() {
        assert_eq!(
            connect_error(404, r#"{"code":"not_found","message":"no such edge"}"#),
            ("not_found".into(), "no such edge".into())
        );
        assert_eq!(connect_error(502, "bad gateway").0, "HTTP 502");
        assert!(is_connect_answer(400, r#"{"code":"invalid_argument"}"#));
        assert!(!is_connect_answer(
            503,
            r#"{"kind":"Status","message":"no endpoints"}"#
        ));
    }
}
