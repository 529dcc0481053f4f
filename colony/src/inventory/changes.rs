//! Events from two successive observations of the components: a new
//! version (deploy), a container that restarted (with why, OOM kills on
//! their own), and a change of desired replicas (scaled). After a colony
//! restart, the same from what it last stored to what it sees now, so what
//! happened while it was down is not lost. Pure.

use std::collections::BTreeMap;

use super::components::{ContainerRuns, Observed};
use crate::store::{ComponentRecord, EventRecord};

pub const DEPLOY: &str = "deploy";
pub const RESTART: &str = "restart";
pub const OOM_KILLED: &str = "oom_killed";
pub const SCALED: &str = "scaled";

type Components = BTreeMap<(String, String), Observed>;

/// Events between `before` and `after`. A component seen for the first time
/// yields none: its past is unknown, not new.
pub fn events(before: &Components, after: &Components, now: i64) -> Vec<EventRecord> {
    let mut events = Vec::new();
    for (key, now_seen) in after {
        let Some(was) = before.get(key) else {
            continue;
        };
        let (namespace, component) = key;
        let event = |time: i64, kind: &str, message: String| EventRecord {
            time,
            kind: kind.to_owned(),
            component: component.clone(),
            namespace: namespace.clone(),
            message,
        };
        let (old, new) = (&was.record.version, &now_seen.record.version);
        if !old.is_empty() && !new.is_empty() && old != new {
            events.push(event(now, DEPLOY, format!("{component} {old} → {new}")));
        }
        if let (Some(old), Some(new)) = (was.desired_replicas, now_seen.desired_replicas)
            && old != new
        {
            events.push(event(
                now,
                SCALED,
                format!("{component} scaled from {old} to {new} replicas"),
            ));
        }
        for ((pod, container), runs) in &now_seen.containers {
            // A pod not seen before is new: its restarts so far count from
            // zero, but only those after it was first seen are events.
            let Some(previous) = was.containers.get(&(pod.clone(), container.clone())) else {
                continue;
            };
            let added = runs.restarts.saturating_sub(previous.restarts);
            if added > 0 {
                events.push(restart(
                    namespace, component, pod, container, runs, added, now,
                ));
            }
        }
    }
    events
}

/// Events for what changed while the colony was not watching: `stored` is
/// what it wrote before it stopped, `after` what it sees once back. A new
/// version is a deploy (timed now: when it rolled out is unknown). When the
/// component's restart count grew, each container whose last run ended
/// since its row was last written restarted meanwhile (a restart seen while
/// running rewrites the row, since the count changes); a higher count with
/// no such container is one event for the component.
pub fn while_away(stored: &[ComponentRecord], after: &Components, now: i64) -> Vec<EventRecord> {
    let mut events = Vec::new();
    for was in stored {
        let key = (was.namespace.clone(), was.name.clone());
        let Some(now_seen) = after.get(&key) else {
            continue;
        };
        let (namespace, component) = &key;
        let (old, new) = (&was.version, &now_seen.record.version);
        if !old.is_empty() && !new.is_empty() && old != new {
            events.push(EventRecord {
                time: now,
                kind: DEPLOY.to_owned(),
                component: component.clone(),
                namespace: namespace.clone(),
                message: format!("{component} {old} → {new} (while the colony was down)"),
            });
        }
        let added = now_seen.record.restarts.saturating_sub(was.restarts);
        if added == 0 {
            continue;
        }
        // Times are whole seconds: a container that ended in the second the
        // row was written counts too, since the count says one is new.
        let mut restarted = false;
        for ((pod, container), runs) in &now_seen.containers {
            if runs.restarts > 0 && runs.last_finished_at >= was.updated_at {
                restarted = true;
                events.push(restart(namespace, component, pod, container, runs, 1, now));
            }
        }
        if !restarted {
            events.push(EventRecord {
                time: now,
                kind: RESTART.to_owned(),
                component: component.clone(),
                namespace: namespace.clone(),
                message: format!(
                    "{component}: {added} container restarts while the colony was down"
                ),
            });
        }
    }
    events
}

/// `added` restarts of one container, timed when it last ended.
fn restart(
    namespace: &str,
    component: &str,
    pod: &str,
    container: &str,
    runs: &ContainerRuns,
    added: u32,
    now: i64,
) -> EventRecord {
    let reason = if runs.last_reason.is_empty() {
        "unknown reason"
    } else {
        runs.last_reason.as_str()
    };
    let kind = if runs.last_reason == "OOMKilled" {
        OOM_KILLED
    } else {
        RESTART
    };
    let times = if added == 1 {
        String::new()
    } else {
        format!(" {added} times")
    };
    let time = if runs.last_finished_at > 0 {
        runs.last_finished_at.min(now)
    } else {
        now
    };
    EventRecord {
        time,
        kind: kind.to_owned(),
        component: component.to_owned(),
        namespace: namespace.to_owned(),
        message: format!(
            "{pod} container {container} restarted{times}: {reason} (exit code {})",
            runs.last_exit_code
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(version: &str, replicas: u32, restarts: u32, reason: &str) -> Observed {
        Observed {
            record: ComponentRecord {
                namespace: "shop".into(),
                name: "api".into(),
                version: version.into(),
                ..Default::default()
            },
            desired_replicas: Some(replicas),
            containers: BTreeMap::from([(
                ("api-1".into(), "api".into()),
                ContainerRuns {
                    restarts,
                    last_reason: reason.into(),
                    last_exit_code: if reason == "OOMKilled" { 137 } else { 1 },
                    last_finished_at: 900,
                },
            )]),
        }
    }

    fn one(observed: Observed) -> BTreeMap<(String, String), Observed> {
        BTreeMap::from([(("shop".into(), "api".into()), observed)])
    }

    #[test]
    fn first_sight_is_no_event_and_no_change_is_none() {
        let now = one(observed("2.1.0", 2, 3, "OOMKilled"));
        assert!(events(&BTreeMap::new(), &now, 1000).is_empty());
        assert!(events(&now, &now, 1000).is_empty());
    }

    #[test]
    fn deploy_scale_and_restarts() {
        let before = one(observed("2.0.9", 2, 0, ""));
        let after = one(observed("2.1.0", 3, 2, "OOMKilled"));
        let got = events(&before, &after, 1000);
        let kinds: Vec<&str> = got.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, [DEPLOY, SCALED, OOM_KILLED]);
        assert_eq!(got[0].message, "api 2.0.9 → 2.1.0");
        assert_eq!(got[1].message, "api scaled from 2 to 3 replicas");
        assert_eq!(
            got[2].message,
            "api-1 container api restarted 2 times: OOMKilled (exit code 137)"
        );
        // When the container last ended, not when the colony noticed.
        assert_eq!(got[2].time, 900);
        assert_eq!(got[0].time, 1000);

        let crashed = one(observed("2.0.9", 2, 1, "Error"));
        let got = events(&before, &crashed, 1000);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, RESTART);
        assert_eq!(
            got[0].message,
            "api-1 container api restarted: Error (exit code 1)"
        );
    }

    #[test]
    fn what_changed_while_the_colony_was_down() {
        let stored = |version: &str, restarts: u32, updated_at: i64| ComponentRecord {
            namespace: "shop".into(),
            name: "api".into(),
            version: version.into(),
            restarts,
            updated_at,
            ..Default::default()
        };
        // Restarted at 900 (after the row was written at 800), new version.
        let mut now_seen = observed("2.2.0", 2, 2, "OOMKilled");
        now_seen.record.restarts = 2;
        let got = while_away(&[stored("2.1.0", 1, 800)], &one(now_seen.clone()), 1000);
        let summary: Vec<(&str, &str, i64)> = got
            .iter()
            .map(|e| (e.kind.as_str(), e.message.as_str(), e.time))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    DEPLOY,
                    "api 2.1.0 → 2.2.0 (while the colony was down)",
                    1000
                ),
                (
                    OOM_KILLED,
                    "api-1 container api restarted: OOMKilled (exit code 137)",
                    900
                ),
            ]
        );
        // The row already knew that restart (written at 950): nothing new.
        assert!(while_away(&[stored("2.2.0", 2, 950)], &one(now_seen.clone()), 1000).is_empty());
        // More restarts, but no container ended after the row: one summary.
        let got = while_away(&[stored("2.2.0", 0, 950)], &one(now_seen.clone()), 1000);
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].message,
            "api: 2 container restarts while the colony was down"
        );
        // Ended in the very second the row was written, and the count grew.
        let got = while_away(&[stored("2.2.0", 1, 900)], &one(now_seen.clone()), 1000);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, OOM_KILLED);
        // A component it had not stored is new: no past.
        assert!(while_away(&[], &one(now_seen), 1000).is_empty());
    }

    #[test]
    fn unknown_versions_and_new_pods_make_no_events() {
        let before = one(observed("", 2, 0, ""));
        let mut after = observed("2.1.0", 2, 0, "");
        after.containers.insert(
            ("api-2".into(), "api".into()),
            ContainerRuns {
                restarts: 4,
                ..Default::default()
            },
        );
        assert!(events(&before, &one(after), 1000).is_empty());
    }
}
