//! Components registered by host-mode agents (`coral connect`, or
//! `coral-node-agent --mode host --workload …`): outside Kubernetes nothing
//! else knows them. Each heartbeat refreshes them; one whose agent stopped
//! calling is shown `down` until it comes back (its uptime then restarts).

use coral_proto::agent::v1::LocalComponent;

use crate::store::{ComponentRecord, Store, StoreError};

/// The kind host-mode workloads have.
pub const PROCESS: &str = "Process";
/// The namespace of a host workload given without one.
pub const HOST_NAMESPACE: &str = "host";
/// Seconds without a heartbeat after which a registered component is down
/// (agents send one every 10 s).
pub const STALE_AFTER_SECONDS: i64 = 45;

fn is_stale(record: &ComponentRecord, now: i64) -> bool {
    now - record.updated_at > STALE_AFTER_SECONDS
}

/// Records `components` as up at `now`, keeping the start time of those
/// that were up already.
pub fn register(
    store: &dyn Store,
    components: &[LocalComponent],
    now: i64,
) -> Result<(), StoreError> {
    let stored = store.list_components(None)?;
    for component in components {
        let namespace = if component.namespace.is_empty() {
            HOST_NAMESPACE
        } else {
            component.namespace.as_str()
        };
        let started_at = stored
            .iter()
            .find(|record| record.namespace == namespace && record.name == component.name)
            .filter(|record| !is_stale(record, now) && record.started_at > 0)
            .map_or(now, |record| record.started_at);
        let mut ports = component.ports.clone();
        ports.sort_unstable();
        ports.dedup();
        store.upsert_component(&ComponentRecord {
            namespace: namespace.to_owned(),
            name: component.name.clone(),
            kind: component.kind().name().unwrap_or(PROCESS).to_owned(),
            version: String::new(),
            pods: 1,
            ready_pods: 1,
            restarts: 0,
            status: "up".to_owned(),
            started_at,
            ports,
            updated_at: now,
        })?;
    }
    Ok(())
}

/// The status to show: a process whose agent stopped refreshing it is down.
pub fn status(record: &ComponentRecord, now: i64) -> String {
    if record.kind == PROCESS && is_stale(record, now) {
        "down".to_owned()
    } else {
        record.status.clone()
    }
}

#[cfg(test)]
mod tests {
    use coral_proto::agent::v1::WorkloadKind;

    use super::*;
    use crate::store::duckdb::DuckDbStore;

    fn api(ports: Vec<u32>) -> LocalComponent {
        LocalComponent {
            namespace: String::new(),
            name: "api".into(),
            kind: WorkloadKind::Process.into(),
            ports,
        }
    }

    #[test]
    fn heartbeats_keep_a_process_up_and_silence_makes_it_down() {
        let store = DuckDbStore::in_memory().unwrap();
        register(&store, &[api(vec![8080, 8080])], 1_000).unwrap();
        register(&store, &[api(vec![8080])], 1_010).unwrap();
        let listed = store.list_components(Some("host")).unwrap();
        assert_eq!(listed.len(), 1);
        let api_row = &listed[0];
        assert_eq!(
            (api_row.kind.as_str(), api_row.started_at),
            (PROCESS, 1_000)
        );
        assert_eq!(api_row.ports, vec![8080]);
        assert_eq!(status(api_row, 1_020), "up");
        assert_eq!(status(api_row, 1_010 + STALE_AFTER_SECONDS + 1), "down");
        // Back after a silence: up again, uptime from now.
        register(&store, &[api(vec![8080])], 2_000).unwrap();
        let back = &store.list_components(Some("host")).unwrap()[0];
        assert_eq!(
            (status(back, 2_000).as_str(), back.started_at),
            ("up", 2_000)
        );
    }
}
