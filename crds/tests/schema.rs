//! Properties of the generated CRDs that `kubectl explain` and the apiserver rely on.

use coral_crds::{Colony, Connection, Reef};
use kube::CustomResourceExt;
use serde_json::Value;

fn schema_of(
    crd: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Value {
    let version = &crd.spec.versions[0];
    serde_json::to_value(
        version
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap()
}

/// Paths of spec/status properties without a description.
fn undescribed(schema: &Value, path: &str, missing: &mut Vec<String>) {
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let child = format!("{path}.{name}");
            let described = property
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.is_empty());
            // Fields of embedded Kubernetes types (resources, selectors, conditions) come described from k8s-openapi.
            if !described && (path.starts_with(".spec") || path == ".status") {
                missing.push(child.clone());
            }
            undescribed(property, &child, missing);
        }
    }
    if let Some(items) = schema.get("items") {
        undescribed(items, &format!("{path}[]"), missing);
    }
}

#[test]
fn every_spec_and_status_field_is_described() {
    for (kind, schema) in [
        ("Colony", schema_of(Colony::crd())),
        ("Connection", schema_of(Connection::crd())),
        ("Reef", schema_of(Reef::crd())),
    ] {
        let mut missing = Vec::new();
        for top in ["spec", "status"] {
            undescribed(&schema["properties"][top], &format!(".{top}"), &mut missing);
        }
        assert!(
            missing.is_empty(),
            "{kind}: fields without description: {missing:?}"
        );
    }
}

#[test]
fn colony_requires_only_application_and_environment() {
    let schema = schema_of(Colony::crd());
    let required: Vec<&str> = schema["properties"]["spec"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, vec!["application", "environment"]);
    assert_eq!(
        schema["properties"]["spec"]["properties"]["storage"]["default"]["duckdb"]["size"],
        "10Gi"
    );
}

#[test]
fn names_categories_and_status_subresource() {
    let crd = Colony::crd();
    assert_eq!(crd.spec.group, "coral.io");
    assert_eq!(
        crd.spec.names.short_names.as_deref(),
        Some(&["col".to_string()][..])
    );
    assert_eq!(
        crd.spec.names.categories.as_deref(),
        Some(&["coral".to_string()][..])
    );
    assert!(
        crd.spec.versions[0]
            .subresources
            .as_ref()
            .unwrap()
            .status
            .is_some()
    );
    assert_eq!(
        Connection::crd().spec.names.short_names.as_deref(),
        Some(&["conn".to_string()][..])
    );
    assert_eq!(
        Reef::crd().spec.names.short_names.as_deref(),
        Some(&["reef".to_string()][..])
    );
}

#[test]
fn cross_field_rules_are_in_the_schema() {
    let text = serde_json::to_string(&Colony::crd()).unwrap();
    for rule in [
        "x-kubernetes-validations",
        "isCIDR(self)",
        "self == oldSelf",
        "has(self.duckdb)",
    ] {
        assert!(text.contains(rule), "missing {rule}");
    }
    assert!(
        serde_json::to_string(&Connection::crd())
            .unwrap()
            .contains("has(self.workloadRef)")
    );
}

/// The schema's bounds and defaults are the colony's own: a Colony the API
/// server admits is one the colony accepts.
#[test]
fn retention_bounds_and_defaults_match_the_colony_settings() {
    use coral_config::{defaults, limits};
    let root = schema_of(Colony::crd());
    let spec = &root["properties"]["spec"]["properties"];
    let schema = &spec["retention"];
    for (field, range, default) in [
        ("flowDays", limits::FLOW_DAYS, defaults::FLOW_DAYS),
        (
            "hourlyFlowDays",
            limits::HOURLY_FLOW_DAYS,
            defaults::HOURLY_FLOW_DAYS,
        ),
        ("eventDays", limits::EVENT_DAYS, defaults::EVENT_DAYS),
    ] {
        let property = &schema["properties"][field];
        // schemars writes the bounds as floats (1.0).
        assert_eq!(
            property["minimum"].as_f64(),
            Some(f64::from(*range.start())),
            "{field}"
        );
        assert_eq!(
            property["maximum"].as_f64(),
            Some(f64::from(*range.end())),
            "{field}"
        );
        assert_eq!(property["default"], default, "{field}");
    }
    let mesh = &spec["mesh"];
    assert_eq!(
        mesh["properties"]["ipv4CIDR"]["default"],
        coral_mesh_addressing::DEFAULT_IPV4_CIDR
    );
    assert_eq!(
        mesh["properties"]["ipv6CIDR"]["default"],
        coral_mesh_addressing::DEFAULT_IPV6_CIDR
    );
    let rules = serde_json::to_string(mesh).unwrap();
    let (first, last) = (
        coral_mesh_addressing::IPV4_PREFIXES.start(),
        coral_mesh_addressing::IPV4_PREFIXES.end(),
    );
    assert!(
        rules.contains(&format!("cidr(self).prefixLength() >= {first}"))
            && rules.contains(&format!("cidr(self).prefixLength() <= {last}")),
        "{rules}"
    );
}
