use super::*;
use coral_crds::{ClickHouseStorage, ColonySpec, SecretKeyReference};

fn minimal_colony() -> Colony {
    // What the apiserver stores for a Colony with only the two required
    // fields: serde defaults mirror the schema defaults.
    let spec: ColonySpec = serde_json::from_value(serde_json::json!({
        "application": "shop", "environment": "prod"
    }))
    .unwrap();
    let mut colony = Colony::new("shop-prod", spec);
    colony.metadata.namespace = Some("apps".into());
    colony.metadata.uid = Some("uid-1".into());
    colony
}

fn keys() -> ColonyKeys {
    ColonyKeys::generate()
}

#[test]
fn minimal_colony_gets_duckdb_statefulset_with_pvc() {
    let children = build(&minimal_colony(), &keys(), "coral/colony:test").unwrap();
    let ColonyWorkload::StatefulSet(sts) = &children.workload else {
        panic!("expected a StatefulSet")
    };
    assert_eq!(sts.metadata.name.as_deref(), Some("shop-prod-colony"));
    let spec = &sts.spec;
    assert_eq!(spec.replicas, Some(1));
    let claim = &spec.volume_claim_templates.as_ref().unwrap()[0];
    let requests = claim
        .spec
        .as_ref()
        .unwrap()
        .resources
        .as_ref()
        .unwrap()
        .requests
        .as_ref()
        .unwrap();
    assert_eq!(requests["storage"].0, "10Gi");
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some("coral/colony:test")
    );
    let security = pod.security_context.as_ref().unwrap();
    assert_eq!(security.fs_group, Some(65532));
    // The mesh hub's TUN device: uid 0 with NET_ADMIN only.
    let container = pod.containers[0].security_context.as_ref().unwrap();
    assert_eq!(container.run_as_user, Some(0));
    assert_eq!(container.allow_privilege_escalation, Some(false));
    let capabilities = container.capabilities.as_ref().unwrap();
    assert_eq!(
        capabilities.add.as_deref(),
        Some(&["NET_ADMIN".to_owned()][..])
    );
    assert_eq!(capabilities.drop.as_deref(), Some(&["ALL".to_owned()][..]));
}

#[test]
fn service_exposes_connect_wireguard_and_dashboard() {
    let children = build(&minimal_colony(), &keys(), "img").unwrap();
    let ports: Vec<(String, i32, String)> = children
        .service
        .spec
        .unwrap()
        .ports
        .unwrap()
        .into_iter()
        .map(|p| (p.name.unwrap(), p.port, p.protocol.unwrap()))
        .collect();
    assert_eq!(
        ports,
        vec![
            ("connect".to_string(), 9000, "TCP".to_string()),
            ("wireguard".to_string(), 41580, "UDP".to_string()),
            ("dashboard".to_string(), 3000, "TCP".to_string()),
        ]
    );
}

#[test]
fn every_child_is_owned_by_the_colony() {
    let children = build(&minimal_colony(), &keys(), "img").unwrap();
    let ColonyWorkload::StatefulSet(sts) = &children.workload else {
        panic!()
    };
    for meta in [
        &children.keys_secret.metadata,
        &children.config_map.metadata,
        &sts.metadata,
        &children.service.metadata,
        &children.service_account.metadata,
        &children.role.metadata,
        &children.role_binding.metadata,
    ] {
        let owners = meta.owner_references.as_ref().unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(
            (
                owners[0].kind.as_str(),
                owners[0].name.as_str(),
                owners[0].uid.as_str()
            ),
            ("Colony", "shop-prod", "uid-1")
        );
        assert_eq!(owners[0].controller, Some(true));
        assert_eq!(meta.namespace.as_deref(), Some("apps"));
        assert_eq!(
            meta.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"],
            "coral-operator"
        );
    }
}

#[test]
fn the_colony_pod_may_read_what_its_inventory_watches_and_no_more() {
    let children = build(&minimal_colony(), &keys(), "img").unwrap();
    let ColonyWorkload::StatefulSet(sts) = &children.workload else {
        panic!()
    };
    let pod = sts.spec.template.spec.as_ref().unwrap();
    let account = children.service_account.metadata.name.clone();
    assert_eq!(pod.service_account_name, account);
    let binding = &children.role_binding;
    assert_eq!(
        Some(binding.role_ref.name.clone()),
        children.role.metadata.name
    );
    let subject = &binding.subjects.as_ref().unwrap()[0];
    assert_eq!(
        (Some(subject.name.clone()), subject.namespace.as_deref()),
        (account, Some("apps"))
    );
    for rule in children.role.rules.as_ref().unwrap() {
        assert_eq!(rule.verbs, ["get", "list", "watch"], "{rule:?}");
    }
    let resources: Vec<String> = children
        .role
        .rules
        .iter()
        .flatten()
        .flat_map(|rule| rule.resources.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        resources,
        [
            "connections",
            "pods",
            "deployments",
            "statefulsets",
            "daemonsets"
        ]
    );
    // And the colony is told which Colony it serves.
    let config = &children.config_map.data.as_ref().unwrap()[CONFIG_KEY];
    assert!(
        config.contains("kubernetesColony: apps/shop-prod"),
        "{config}"
    );
}

#[test]
fn clickhouse_colony_gets_a_deployment_and_password_mount() {
    let mut colony = minimal_colony();
    colony.spec.storage.duckdb = None;
    colony.spec.storage.clickhouse = Some(ClickHouseStorage {
        url: "http://clickhouse:8123".into(),
        database: "coral".into(),
        user: "default".into(),
        password_secret_ref: Some(SecretKeyReference {
            name: "ch".into(),
            key: "password".into(),
        }),
    });
    let children = build(&colony, &keys(), "img").unwrap();
    let ColonyWorkload::Deployment(deployment) = &children.workload else {
        panic!("expected a Deployment")
    };
    let pod = deployment.spec.template.spec.as_ref().unwrap();
    assert!(
        pod.volumes.as_ref().unwrap().iter().any(|v| v
            .secret
            .as_ref()
            .and_then(|s| s.secret_name.as_deref())
            == Some("ch"))
    );
    let config = &children.config_map.data.as_ref().unwrap()[CONFIG_KEY];
    assert!(
        config.contains("backend: clickhouse") && config.contains("http://clickhouse:8123"),
        "{config}"
    );
}

#[test]
fn secret_holds_keys_and_config_holds_none() {
    let keys = keys();
    let children = build(&minimal_colony(), &keys, "img").unwrap();
    assert_eq!(
        ColonyKeys::from_secret_data(children.keys_secret.data.as_ref().unwrap()).unwrap(),
        keys
    );
    let config = &children.config_map.data.as_ref().unwrap()[CONFIG_KEY];
    assert!(!config.contains(&keys.private_key) && !config.contains(&keys.enrollment_token));
    assert!(config.contains("ipv4Cidr: 10.42.0.0/16"), "{config}");
}

#[test]
fn config_change_changes_pod_template_hash() {
    let colony = minimal_colony();
    let mut changed = colony.clone();
    changed.spec.retention.flow_days = 30;
    let hash = |c: &Colony| {
        let ColonyWorkload::StatefulSet(sts) = build(c, &keys(), "img").unwrap().workload else {
            panic!()
        };
        sts.spec.template.metadata.unwrap().annotations.unwrap()[workload::CONFIG_HASH_ANNOTATION]
            .clone()
    };
    assert_ne!(hash(&colony), hash(&changed));
    assert_eq!(hash(&colony), hash(&colony.clone()));
}

#[test]
fn dashboard_disabled_drops_its_port() {
    let mut colony = minimal_colony();
    colony.spec.dashboard.enabled = false;
    let ports = build(&colony, &keys(), "img")
        .unwrap()
        .service
        .spec
        .unwrap()
        .ports
        .unwrap();
    assert!(ports.iter().all(|p| p.name.as_deref() != Some("dashboard")));
}

#[test]
fn mesh_address_is_first_host() {
    assert_eq!(mesh_ipv4("10.42.0.0/16").as_deref(), Some("10.42.0.1"));
    assert_eq!(mesh_ipv4("10.42.7.9/24").as_deref(), Some("10.42.7.1"));
    assert_eq!(mesh_ipv4("nonsense"), None);
    assert_eq!(endpoint("shop", "apps"), "shop-colony.apps.svc:9000");
}
