//! The behaviour every `Store` backend must show. Backends run it from
//! their own tests: `conformance::run_all(|| MyStore::new(...))`, each case
//! with a fresh, empty store (DuckDB in memory, ClickHouse a new database
//! on a server the test starts).

use super::*;

const T0: i64 = 1_760_000_000 / 60 * 60;

pub fn run_all<S: Store>(fresh: impl Fn() -> S) {
    enrollment_assigns_stable_hosts(&fresh());
    mesh_full_is_an_error(&fresh());
    batches_apply_once(&fresh());
    topology_sums_filters_and_windows(&fresh());
    edge_series_has_minute_buckets(&fresh());
    minute_rows_sum_batches_per_minute_and_edge(&fresh());
    components_upsert_and_filter(&fresh());
    events_newest_first_with_filter(&fresh());
    purge_respects_cutoffs(&fresh());
    old_minutes_fold_into_hours(&fresh());
}

fn enrollment(agent: &str, key: &str) -> AgentEnrollment {
    AgentEnrollment {
        agent_id: agent.into(),
        pubkey: key.into(),
        node_name: format!("node-{agent}"),
        version: "0.1.0".into(),
        endpoint: String::new(),
        at: T0,
    }
}

pub fn workload(namespace: &str, name: &str) -> WorkloadRef {
    WorkloadRef {
        namespace: namespace.into(),
        name: name.into(),
        kind: "Deployment".into(),
    }
}

pub fn external(ip: &str) -> WorkloadRef {
    WorkloadRef {
        namespace: String::new(),
        name: ip.into(),
        kind: EXTERNAL_KIND.into(),
    }
}

pub fn row(minute: i64, source: WorkloadRef, destination: WorkloadRef, n: u64) -> EdgeMinute {
    EdgeMinute {
        minute,
        key: EdgeKey {
            source,
            destination,
            port: 8080,
        },
        stats: EdgeStats {
            connections: n,
            failed: 1,
            resets: 0,
            bytes_sent: 100 * n,
            bytes_received: 1000 * n,
            rtt_us_sum: 500 * n,
            rtt_samples: n,
        },
    }
}

fn batch(agent: &str, sequence: u64) -> BatchId {
    BatchId {
        agent_id: agent.into(),
        sequence,
        received_at: T0,
    }
}

fn window(from: i64, to: i64) -> TopologyQuery {
    TopologyQuery {
        from,
        to,
        namespace: None,
        include_external: true,
    }
}

/// What `RecentMinutes` loads at start.
pub fn minute_rows_sum_batches_per_minute_and_edge(store: &impl Store) {
    let (web, api, db) = (
        workload("shop", "web"),
        workload("shop", "api"),
        workload("shop", "db"),
    );
    store
        .apply_batch(&batch("a", 1), &[row(T0, web.clone(), api.clone(), 2)])
        .unwrap();
    store
        .apply_batch(
            &batch("b", 1),
            &[
                row(T0, web.clone(), api.clone(), 3),
                row(T0 + 60, api.clone(), db.clone(), 1),
                row(T0 - 60, web.clone(), db.clone(), 9),
            ],
        )
        .unwrap();
    let mut rows = store.minute_rows(T0).unwrap();
    rows.sort_by_key(|row| (row.minute, row.key.clone()));
    let summary: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.minute - T0,
                r.key.destination.name.as_str(),
                r.stats.connections,
            )
        })
        .collect();
    assert_eq!(summary, vec![(0, "api", 5), (60, "db", 1)]);
    assert_eq!(rows[0].stats.bytes_received, 5_000);
}

pub fn enrollment_assigns_stable_hosts(store: &impl Store) {
    let a = store.enroll_agent(&enrollment("a", "key-a"), 100).unwrap();
    let b = store.enroll_agent(&enrollment("b", "key-b"), 100).unwrap();
    assert_eq!((a.mesh_host, b.mesh_host), (2, 3));
    assert!(a.new_key && b.new_key);
    let again = store.enroll_agent(&enrollment("a", "key-a"), 100).unwrap();
    assert_eq!(again.mesh_host, 2);
    assert!(!again.new_key);
    assert_eq!(again.last_sequence, 0);

    assert!(store.touch_agent("a", T0 + 30).unwrap());
    assert!(!store.touch_agent("nobody", T0).unwrap());
    let agents = store.list_agents().unwrap();
    assert_eq!(agents.len(), 2);
    assert_eq!(agents[0].agent_id, "a");
    assert_eq!(agents[0].mesh_host, 2);
    assert_eq!(agents[0].last_seen, T0 + 30);
    assert_eq!(agents[1].node_name, "node-b");
    assert_eq!(store.agent("b").unwrap().unwrap().pubkey, "key-b");
    assert!(store.agent("c").unwrap().is_none());
}

pub fn mesh_full_is_an_error(store: &impl Store) {
    store.enroll_agent(&enrollment("a", "key-a"), 2).unwrap();
    let full = store.enroll_agent(&enrollment("b", "key-b"), 2);
    assert!(matches!(full, Err(StoreError::MeshFull { .. })), "{full:?}");
    // The known key still enrolls.
    assert_eq!(
        store
            .enroll_agent(&enrollment("a", "key-a"), 2)
            .unwrap()
            .mesh_host,
        2
    );
}

pub fn batches_apply_once(store: &impl Store) {
    store.enroll_agent(&enrollment("a", "key-a"), 100).unwrap();
    let rows = [row(T0, workload("shop", "web"), workload("shop", "api"), 5)];
    assert_eq!(
        store.apply_batch(&batch("a", 1), &rows).unwrap(),
        BatchOutcome::Applied
    );
    assert_eq!(
        store.apply_batch(&batch("a", 1), &rows).unwrap(),
        BatchOutcome::Duplicate
    );
    // Another agent may use the same sequence number.
    assert_eq!(
        store.apply_batch(&batch("b", 1), &rows).unwrap(),
        BatchOutcome::Applied
    );
    assert_eq!(
        store.apply_batch(&batch("a", 2), &[]).unwrap(),
        BatchOutcome::Applied
    );
    let edges = store.topology(&window(T0, T0 + 60)).unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0].stats.connections, 10);
    let again = store.enroll_agent(&enrollment("a", "key-a"), 100).unwrap();
    assert_eq!(again.last_sequence, 2);
}

pub fn topology_sums_filters_and_windows(store: &impl Store) {
    let rows = [
        row(T0, workload("shop", "web"), workload("shop", "api"), 3),
        row(T0 + 60, workload("shop", "web"), workload("shop", "api"), 4),
        row(T0 + 60, workload("shop", "api"), external("203.0.113.9"), 2),
        row(
            T0 + 60,
            workload("auth", "login"),
            workload("auth", "db"),
            7,
        ),
        row(
            T0 + 600,
            workload("shop", "web"),
            workload("shop", "api"),
            100,
        ),
    ];
    store.apply_batch(&batch("a", 1), &rows).unwrap();

    let all = store.topology(&window(T0, T0 + 120)).unwrap();
    assert_eq!(all.len(), 3, "{all:?}");
    let web_api = all
        .iter()
        .find(|e| e.key.source.name == "web")
        .expect("web → api");
    assert_eq!(web_api.stats.connections, 7);
    assert_eq!(web_api.stats.bytes_sent, 700);
    assert_eq!(web_api.stats.bytes_received, 7000);
    assert_eq!(web_api.stats.failed, 2);
    assert_eq!(web_api.stats.rtt_us(), 500);
    assert_eq!(web_api.last_minute, T0 + 60);

    let shop_only = store
        .topology(&TopologyQuery {
            namespace: Some("shop".into()),
            include_external: false,
            ..window(T0, T0 + 120)
        })
        .unwrap();
    assert_eq!(shop_only.len(), 1, "{shop_only:?}");
    assert_eq!(shop_only[0].key.destination.name, "api");

    let late = store.topology(&window(T0 + 120, T0 + 3600)).unwrap();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].stats.connections, 100);
}

pub fn edge_series_has_minute_buckets(store: &impl Store) {
    let mut other_port = row(T0, workload("shop", "web"), workload("shop", "api"), 2);
    other_port.key.port = 9090;
    let rows = [
        row(T0, workload("shop", "web"), workload("shop", "api"), 3),
        other_port,
        row(
            T0 + 120,
            workload("shop", "web"),
            workload("shop", "api"),
            4,
        ),
        row(
            T0 + 120,
            workload("shop", "api"),
            workload("shop", "web"),
            9,
        ),
    ];
    store.apply_batch(&batch("a", 1), &rows).unwrap();
    let points = store
        .edge_series(&SeriesQuery {
            source: ("shop".into(), "web".into()),
            destination: ("shop".into(), "api".into()),
            from: T0,
            to: T0 + 3600,
        })
        .unwrap();
    let summary: Vec<(i64, u64)> = points
        .iter()
        .map(|p| (p.minute, p.stats.connections))
        .collect();
    assert_eq!(summary, vec![(T0, 5), (T0 + 120, 4)]);
}

pub fn components_upsert_and_filter(store: &impl Store) {
    let mut api = ComponentRecord {
        namespace: "shop".into(),
        name: "api".into(),
        kind: "Deployment".into(),
        version: "1.0".into(),
        pods: 2,
        ready_pods: 2,
        status: "up".into(),
        ports: vec![8080, 9090],
        ..Default::default()
    };
    store.upsert_component(&api).unwrap();
    api.version = "1.1".into();
    store.upsert_component(&api).unwrap();
    store
        .upsert_component(&ComponentRecord {
            namespace: "auth".into(),
            name: "login".into(),
            ..Default::default()
        })
        .unwrap();
    let all = store.list_components(None).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].name, "login");
    let shop = store.list_components(Some("shop")).unwrap();
    assert_eq!(shop, vec![api.clone()]);

    store.remove_component("auth", "login").unwrap();
    store.remove_component("auth", "never-stored").unwrap();
    assert_eq!(store.list_components(None).unwrap(), vec![api.clone()]);
    // A component can come back after it was removed.
    store
        .upsert_component(&ComponentRecord {
            namespace: "auth".into(),
            name: "login".into(),
            status: "up".into(),
            ..Default::default()
        })
        .unwrap();
    let all = store.list_components(None).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].status, "up");
}

pub fn events_newest_first_with_filter(store: &impl Store) {
    for (offset, component) in [(0, "api"), (10, "web"), (20, "api")] {
        store
            .record_event(&EventRecord {
                time: T0 + offset,
                kind: "deploy".into(),
                component: component.into(),
                namespace: "shop".into(),
                message: format!("at {offset}"),
            })
            .unwrap();
    }
    let all = store
        .list_events(&EventQuery {
            from: T0,
            component: None,
            limit: 10,
        })
        .unwrap();
    let times: Vec<i64> = all.iter().map(|e| e.time - T0).collect();
    assert_eq!(times, vec![20, 10, 0]);
    let api = store
        .list_events(&EventQuery {
            from: T0 + 5,
            component: Some("api".into()),
            limit: 10,
        })
        .unwrap();
    assert_eq!(api.len(), 1);
    assert_eq!(api[0].message, "at 20");
    let limited = store
        .list_events(&EventQuery {
            from: 0,
            component: None,
            limit: 1,
        })
        .unwrap();
    assert_eq!(limited.len(), 1);
}

/// An hour boundary after T0.
const H0: i64 = (T0 / 3_600 + 1) * 3_600;

pub fn purge_respects_cutoffs(store: &impl Store) {
    let rows = [
        row(H0, workload("shop", "web"), workload("shop", "api"), 1),
        row(
            H0 + 3_600,
            workload("shop", "web"),
            workload("shop", "api"),
            2,
        ),
    ];
    store.apply_batch(&batch("a", 1), &rows).unwrap();
    let purged = store
        .purge(PurgeCutoffs {
            edge_minutes_before: H0 + 3_600,
            edge_hours_before: 0,
            events_before: T0,
            batches_before: T0,
        })
        .unwrap();
    assert_eq!(purged.edge_minutes, 1);
    assert_eq!(purged.edge_hours_written, 1);
    assert_eq!(purged.batches, 0);
    // Folded, not lost: the hour before the cut-off is an hourly row now.
    let all = store.topology(&window(0, H0 + 7_200)).unwrap();
    assert_eq!(all[0].stats.connections, 3);
    let recent = store.topology(&window(H0 + 3_600, H0 + 7_200)).unwrap();
    assert_eq!(recent[0].stats.connections, 2);
    // The ledger entry is still there: a retry stays a duplicate.
    assert_eq!(
        store.apply_batch(&batch("a", 1), &rows).unwrap(),
        BatchOutcome::Duplicate
    );
    // Past the hourly retention the hour goes too.
    let purged = store
        .purge(PurgeCutoffs {
            edge_minutes_before: H0 + 3_600,
            edge_hours_before: H0 + 3_600,
            events_before: T0,
            batches_before: T0,
        })
        .unwrap();
    assert_eq!((purged.edge_hours_written, purged.edge_hours), (0, 1));
    let left = store.topology(&window(0, H0 + 7_200)).unwrap();
    assert_eq!(left[0].stats.connections, 2);
}

/// Minute rows older than the cut-off become one row per hour and edge;
/// totals over any window that covers whole hours are unchanged, series
/// show hourly points before the watermark and minute points after, and a
/// second purge folds nothing twice.
pub fn old_minutes_fold_into_hours(store: &impl Store) {
    let web_api =
        |minute: i64, n: u64| row(minute, workload("shop", "web"), workload("shop", "api"), n);
    let rows = [
        web_api(H0, 1),
        web_api(H0 + 60, 2),
        row(H0 + 120, workload("shop", "api"), workload("shop", "db"), 4),
        web_api(H0 + 3_600 + 300, 8),
        web_api(H0 + 7_200 + 60, 16),
    ];
    store.apply_batch(&batch("a", 1), &rows).unwrap();
    let everything = window(0, H0 + 10_800);
    let before = store.topology(&everything).unwrap();
    let cutoffs = PurgeCutoffs {
        edge_minutes_before: H0 + 7_200,
        edge_hours_before: 0,
        events_before: 0,
        batches_before: 0,
    };
    let purged = store.purge(cutoffs).unwrap();
    assert_eq!(purged.edge_minutes, 4);
    assert_eq!(purged.edge_hours_written, 3);
    let after = store.topology(&everything).unwrap();
    assert_eq!(
        after.iter().map(|e| (&e.key, e.stats)).collect::<Vec<_>>(),
        before.iter().map(|e| (&e.key, e.stats)).collect::<Vec<_>>(),
        "totals change when minutes become hours"
    );
    let points = store
        .edge_series(&SeriesQuery {
            source: ("shop".into(), "web".into()),
            destination: ("shop".into(), "api".into()),
            from: 0,
            to: H0 + 10_800,
        })
        .unwrap();
    let summary: Vec<(i64, u64)> = points
        .iter()
        .map(|p| (p.minute, p.stats.connections))
        .collect();
    assert_eq!(
        summary,
        vec![(H0, 3), (H0 + 3_600, 8), (H0 + 7_200 + 60, 16)]
    );
    // Again: nothing new to fold, nothing counted twice.
    let again = store.purge(cutoffs).unwrap();
    assert_eq!((again.edge_minutes, again.edge_hours_written), (0, 0));
    let web = store.topology(&everything).unwrap();
    let web = web
        .iter()
        .find(|e| e.key.destination.name == "api")
        .unwrap();
    assert_eq!(web.stats.connections, 1 + 2 + 8 + 16);
    assert_eq!(web.stats.bytes_sent, 100 * (1 + 2 + 8 + 16));
}

/// Data written by one instance is read by the next one opened on the
/// same location (the colony restarting on its volume).
pub fn persists_across_reopen<S: Store>(open: impl Fn() -> S) {
    {
        let store = open();
        store.enroll_agent(&enrollment("a", "key-a"), 100).unwrap();
        store
            .apply_batch(
                &batch("a", 7),
                &[row(T0, workload("shop", "web"), workload("shop", "api"), 3)],
            )
            .unwrap();
    }
    let store = open();
    let again = store.enroll_agent(&enrollment("a", "key-a"), 100).unwrap();
    assert_eq!((again.mesh_host, again.last_sequence), (2, 7));
    assert_eq!(
        store.topology(&window(T0, T0 + 60)).unwrap()[0]
            .stats
            .connections,
        3
    );
}
