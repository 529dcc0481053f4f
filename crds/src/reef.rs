//! `Reef`: federates many colonies for cross-environment questions.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::references::{LocalObjectReference, SecretKeyReference};

/// Desired state of a Reef.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "coral.io",
    version = "v1alpha1",
    kind = "Reef",
    plural = "reefs",
    shortname = "reef",
    category = "coral",
    namespaced,
    status = "ReefStatus",
    doc = "A Coral reef: federates many colonies over ClickHouse and serves cross-environment questions.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the reef is ready"
    ),
    printcolumn(
        name = "Endpoint",
        type_ = "string",
        json_path = ".status.endpoint",
        description = "Endpoint of the reef API"
    ),
    printcolumn(
        name = "Colonies",
        type_ = "integer",
        json_path = ".status.colonies",
        description = "Colonies federated into the reef"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ReefSpec {
    /// ClickHouse server the reef federates over.
    pub clickhouse: ReefClickHouse,
    /// Colonies (in the Reef's namespace) to federate; all of them when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colony_selector: Option<LabelSelector>,
    /// Public HTTPS endpoint; the operator creates an Ingress for it when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_endpoint: Option<ReefPublicEndpoint>,
    /// Optional LLM settings for `coral ask` against the reef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmSpec>,
    /// Container image override for the reef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Compute resources of the reef container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// ClickHouse connection settings of a reef, read from a Secret.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReefClickHouse {
    /// Secret in the same namespace with keys `url`, `user` and `password`.
    pub secret_ref: LocalObjectReference,
    /// Database holding the federated data.
    #[serde(default = "default_database")]
    #[schemars(length(min = 1, max = 63))]
    pub database: String,
}

fn default_database() -> String {
    "coral".into()
}

/// Public HTTPS endpoint of a reef.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReefPublicEndpoint {
    /// Host name of the public endpoint (for example `reef.example.com`).
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub host: String,
    /// Secret of type `kubernetes.io/tls` holding the certificate for `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret_ref: Option<LocalObjectReference>,
    /// IngressClass for the Ingress; the cluster default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class_name: Option<String>,
}

/// LLM settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LlmSpec {
    /// Provider name (for example `openai`, `anthropic`, `ollama`).
    #[schemars(length(min = 1, max = 63))]
    pub provider: String,
    /// Model name.
    #[schemars(length(min = 1, max = 253))]
    pub model: String,
    /// Secret key holding the provider's API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_secret_ref: Option<SecretKeyReference>,
}

/// Observed state of a Reef.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ReefStatus {
    /// Conditions `Ready`, `Progressing` and `Degraded`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Endpoint of the reef API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Number of federated colonies.
    #[serde(default)]
    pub colonies: i32,
    /// Federated colonies (`namespace/name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub federated_colonies: Vec<String>,
}
