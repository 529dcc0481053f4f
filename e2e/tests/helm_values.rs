//! The chart refuses bad values at `helm template`/`helm install` time with
//! a message naming the field (values.schema.json), and renders optional
//! parts only when asked. Only the install test needs the local cluster.

mod chart_support;

use anyhow::Result;
use chart_support::{chart_dir, command, outcome, template};

/// (--set, text the error must contain).
const BAD_VALUES: &[(&str, &str)] = &[
    ("operator.replicas=0", "/operator/replicas"),
    ("logging.format=yaml", "/logging/format"),
    ("operator.image.digest=latest", "/operator/image/digest"),
    ("operator.replicsa=2", "replicsa"),
    ("metrics.port=80", "/metrics/port"),
    (
        "podDisruptionBudget.maxUnavailable=half",
        "/podDisruptionBudget/maxUnavailable",
    ),
    (
        "operator.image.pullPolicy=Sometimes",
        "/operator/image/pullPolicy",
    ),
    ("rbac.create=yes", "/rbac/create"),
    (
        "operator.replicas=2,operator.leaderElection=false",
        "/operator/leaderElection",
    ),
    ("nodeAgent.logLevel=loud", "/nodeAgent/logLevel"),
    (
        "nodeAgent.drainIntervalSeconds=0",
        "/nodeAgent/drainIntervalSeconds",
    ),
    (
        "nodeAgent.resources.limits.memory=lots",
        "/nodeAgent/resources/limits/memory",
    ),
];

#[test]
fn bad_values_fail_and_name_the_field() -> Result<()> {
    for (set, field) in BAD_VALUES {
        let out = template("bad", "coral-system", &[set], &[])?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--set {set} was accepted");
        assert!(
            stderr.contains("values don't meet the specifications of the schema")
                && stderr.contains(field),
            "--set {set}: the error does not name {field}:\n{stderr}"
        );
    }
    Ok(())
}

#[test]
fn default_values_render_restricted_operator_pod() -> Result<()> {
    let out = template("coral", "coral-system", &[], &[])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "runAsNonRoot: true",
        "allowPrivilegeEscalation: false",
        "readOnlyRootFilesystem: true",
        "type: RuntimeDefault",
        "drop: [\"ALL\"]",
        // The operator's DaemonSet runs as this ServiceAccount (operator/src/labels.rs).
        "name: coral-node-agent",
        "kind: PodDisruptionBudget",
        "image: \"ghcr.io/coral-dev/coral-operator:0.1.0\"",
        "value: \"ghcr.io/coral-dev/coral-node-agent:0.1.0\"",
    ] {
        assert!(
            rendered.contains(needle),
            "default render lacks {needle:?}:\n{rendered}"
        );
    }
    assert!(!rendered.contains("privileged: true"));
    assert!(!rendered.contains("kind: ServiceMonitor"));
    Ok(())
}

#[test]
fn service_monitor_needs_its_crd_and_then_selects_the_metrics_service() -> Result<()> {
    let without_crd = template(
        "coral",
        "coral-system",
        &["metrics.serviceMonitor.enabled=true"],
        &[],
    )?;
    assert!(
        !without_crd.status.success(),
        "rendered a ServiceMonitor for a cluster without its CRD"
    );
    let stderr = String::from_utf8_lossy(&without_crd.stderr);
    assert!(
        stderr.contains("metrics.serviceMonitor.enabled") && stderr.contains("ServiceMonitor CRD"),
        "unclear error: {stderr}"
    );

    let with_crd = template(
        "coral",
        "coral-system",
        &[
            "metrics.serviceMonitor.enabled=true",
            "metrics.serviceMonitor.labels.release=prom",
        ],
        &["--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"],
    )?;
    assert!(
        with_crd.status.success(),
        "{}",
        String::from_utf8_lossy(&with_crd.stderr)
    );
    let rendered = String::from_utf8_lossy(&with_crd.stdout);
    let monitor = rendered
        .split("\n---\n")
        .find(|doc| doc.contains("kind: ServiceMonitor"))
        .expect("a ServiceMonitor");
    for needle in [
        "release: prom",
        "port: http",
        "path: /metrics",
        "app.kubernetes.io/name: coral-operator",
        "- coral-system",
    ] {
        assert!(
            monitor.contains(needle),
            "ServiceMonitor lacks {needle:?}:\n{monitor}"
        );
    }
    Ok(())
}

#[test]
fn helm_install_with_a_bad_value_fails_before_creating_anything() -> Result<()> {
    let release = format!("coral-bad-{}", std::process::id());
    let out = outcome(
        command("helm")?
            .args(["install", &release])
            .arg(chart_dir())
            .args(["--namespace", "default", "--set", "logging.format=xml"]),
    )?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "helm install accepted logging.format=xml"
    );
    assert!(
        stderr.contains("/logging/format") && stderr.contains("'json', 'text'"),
        "the error does not name the field and its choices:\n{stderr}"
    );
    let status = outcome(command("helm")?.args(["status", &release, "--namespace", "default"]))?;
    assert!(
        !status.status.success(),
        "a release {release} exists after the refused install"
    );
    Ok(())
}
