//! "Reef spec → desired children". Pure.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use coral_crds::{Reef, ReefPublicEndpoint};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PodSpec, PodTemplateSpec, Secret, SecurityContext, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};
use rand::RngCore;

use super::{API_PORT, SIGNING_KEY};
use crate::error::{Error, Result};
use crate::labels;
use crate::pod_spec::{
    OWNER_READ_ONLY, container_port, env_from_secret, env_value, locked_down, match_labels, mount,
    secret_volume,
};

const SIGNING_KEY_DIR: &str = "/var/run/coral/signing";

#[derive(Clone, Debug, PartialEq)]
pub struct ReefChildren {
    pub signing_key: Secret,
    pub deployment: Deployment,
    pub service: Service,
    pub ingress: Option<Ingress>,
}

/// A new random 256-bit signing key, base64.
pub fn generate_signing_key() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    STANDARD.encode(key)
}

pub fn build(reef: &Reef, signing_key: &str, default_image: &str) -> Result<ReefChildren> {
    let name = reef.name_any();
    let namespace = reef
        .namespace()
        .ok_or(Error::MissingField("metadata.namespace"))?;
    let owner = reef
        .controller_owner_ref(&())
        .ok_or(Error::MissingField("metadata.uid"))?;
    let meta = |object_name: String| ObjectMeta {
        name: Some(object_name),
        namespace: Some(namespace.clone()),
        labels: Some(labels::reef_labels(&name)),
        owner_references: Some(vec![owner.clone()]),
        ..Default::default()
    };
    let workload_name = labels::reef_workload_name(&name);
    Ok(ReefChildren {
        signing_key: Secret {
            metadata: meta(labels::reef_signing_key_name(&name)),
            type_: Some("Opaque".into()),
            data: Some(BTreeMap::from([(
                SIGNING_KEY.to_string(),
                ByteString(signing_key.as_bytes().to_vec()),
            )])),
            ..Default::default()
        },
        deployment: deployment(reef, meta(workload_name.clone()), default_image),
        service: service(reef, meta(workload_name.clone())),
        ingress: reef
            .spec
            .public_endpoint
            .as_ref()
            .map(|public| ingress(public, meta(workload_name.clone()), &workload_name)),
    })
}

fn deployment(reef: &Reef, metadata: ObjectMeta, default_image: &str) -> Deployment {
    let name = reef.name_any();
    Deployment {
        metadata,
        spec: DeploymentSpec {
            replicas: Some(1),
            selector: match_labels(labels::reef_selector_labels(&name)),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels::reef_labels(&name)),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container(reef, default_image)],
                    volumes: Some(vec![secret_volume(
                        "signing-key",
                        &labels::reef_signing_key_name(&name),
                        Some(OWNER_READ_ONLY),
                    )]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        status: None,
    }
}

fn container(reef: &Reef, default_image: &str) -> Container {
    let spec = &reef.spec;
    Container {
        name: "reef".into(),
        image: Some(
            spec.image
                .clone()
                .unwrap_or_else(|| default_image.to_string()),
        ),
        args: Some(vec![
            "--listen".into(),
            format!("0.0.0.0:{API_PORT}"),
            "--signing-key-file".into(),
            format!("{SIGNING_KEY_DIR}/{SIGNING_KEY}"),
        ]),
        env: Some(env(reef)),
        ports: Some(vec![container_port("api", API_PORT, "TCP")]),
        volume_mounts: Some(vec![mount("signing-key", SIGNING_KEY_DIR, true)]),
        resources: spec.resources.clone(),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            ..locked_down()
        }),
        ..Default::default()
    }
}

/// ClickHouse from the Secret the Reef names (`url` required, `user` and
/// `password` optional), then the LLM settings when the Reef has them.
fn env(reef: &Reef) -> Vec<EnvVar> {
    let spec = &reef.spec;
    let clickhouse_secret = &spec.clickhouse.secret_ref.name;
    let mut env = vec![
        env_from_secret("CLICKHOUSE_URL", clickhouse_secret, "url", None),
        env_from_secret("CLICKHOUSE_USER", clickhouse_secret, "user", Some(true)),
        env_from_secret(
            "CLICKHOUSE_PASSWORD",
            clickhouse_secret,
            "password",
            Some(true),
        ),
        env_value("CLICKHOUSE_DATABASE", spec.clickhouse.database.clone()),
    ];
    if let Some(llm) = &spec.llm {
        env.push(env_value("CORAL_LLM_PROVIDER", llm.provider.clone()));
        env.push(env_value("CORAL_LLM_MODEL", llm.model.clone()));
        if let Some(key) = &llm.api_key_secret_ref {
            env.push(env_from_secret(
                "CORAL_LLM_API_KEY",
                &key.name,
                &key.key,
                None,
            ));
        }
    }
    env
}

fn service(reef: &Reef, metadata: ObjectMeta) -> Service {
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(labels::reef_selector_labels(&reef.name_any())),
            ports: Some(vec![ServicePort {
                name: Some("api".into()),
                port: API_PORT,
                protocol: Some("TCP".into()),
                target_port: Some(IntOrString::String("api".into())),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// Routes every path of the public host to the Service's `api` port, with
/// TLS when the Reef names a certificate Secret.
fn ingress(public: &ReefPublicEndpoint, metadata: ObjectMeta, service_name: &str) -> Ingress {
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: public.ingress_class_name.clone(),
            tls: public.tls_secret_ref.as_ref().map(|tls| {
                vec![IngressTLS {
                    hosts: Some(vec![public.host.clone()]),
                    secret_name: Some(tls.name.clone()),
                }]
            }),
            rules: Some(vec![IngressRule {
                host: Some(public.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: service_name.into(),
                                port: Some(ServiceBackendPort {
                                    name: Some("api".into()),
                                    number: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            default_backend: None,
        }),
        status: None,
    }
}

/// Where clients reach the reef: the public host when set, else the Service.
pub fn endpoint(reef: &Reef) -> String {
    match &reef.spec.public_endpoint {
        Some(public) => format!("https://{}", public.host),
        None => format!(
            "{}.{}.svc:{API_PORT}",
            labels::reef_workload_name(&reef.name_any()),
            reef.namespace().unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coral_crds::ReefSpec;

    fn reef(extra: serde_json::Value) -> Reef {
        let mut spec = serde_json::json!({"clickhouse": {"secretRef": {"name": "ch"}}});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let spec: ReefSpec = serde_json::from_value(spec).unwrap();
        let mut reef = Reef::new("global", spec);
        reef.metadata.namespace = Some("coral".into());
        reef.metadata.uid = Some("uid-r".into());
        reef
    }

    #[test]
    fn reef_children_are_owned_and_read_clickhouse_from_the_secret() {
        let children = build(&reef(serde_json::json!({})), "key", "coral/reef:test").unwrap();
        assert!(children.ingress.is_none());
        for meta in [
            &children.signing_key.metadata,
            &children.deployment.metadata,
            &children.service.metadata,
        ] {
            assert_eq!(meta.owner_references.as_ref().unwrap()[0].uid, "uid-r");
        }
        let env = children.deployment.spec.template.spec.unwrap().containers[0]
            .env
            .clone()
            .unwrap();
        let url = env.iter().find(|e| e.name == "CLICKHOUSE_URL").unwrap();
        let selector = url
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (selector.name.as_str(), selector.key.as_str()),
            ("ch", "url")
        );
        assert_eq!(
            endpoint(&reef(serde_json::json!({}))),
            "global-reef.coral.svc:8443"
        );
    }

    #[test]
    fn public_endpoint_adds_an_ingress_with_tls() {
        let reef = reef(
            serde_json::json!({"publicEndpoint": {"host": "reef.example.com", "tlsSecretRef": {"name": "tls"}}}),
        );
        let ingress = build(&reef, "key", "img")
            .unwrap()
            .ingress
            .unwrap()
            .spec
            .unwrap();
        assert_eq!(
            ingress.rules.unwrap()[0].host.as_deref(),
            Some("reef.example.com")
        );
        assert_eq!(ingress.tls.unwrap()[0].secret_name.as_deref(), Some("tls"));
        assert_eq!(endpoint(&reef), "https://reef.example.com");
    }
}
