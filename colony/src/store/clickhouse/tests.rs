//! The ClickHouse store against a real `clickhouse-server` each test
//! starts (private config, data dir and ports; stopped on drop, also on a
//! failed assertion). A missing server binary fails the test with what to
//! run, never skips it.

use std::sync::atomic::{AtomicU32, Ordering};

use super::local_server::LocalServer;
use super::*;
use crate::store::conformance::{self, row, workload};

fn start_server() -> LocalServer {
    LocalServer::start().unwrap_or_else(|error| panic!("{error}"))
}

fn batch(agent: &str, sequence: u64) -> BatchId {
    BatchId {
        agent_id: agent.into(),
        sequence,
        received_at: T0,
    }
}

const T0: i64 = 1_760_000_000 / 60 * 60;

fn connections(store: &ClickHouseStore) -> u64 {
    store
        .topology(&TopologyQuery {
            from: T0,
            to: T0 + 60,
            namespace: None,
            include_external: true,
        })
        .unwrap()
        .iter()
        .map(|edge| edge.stats.connections)
        .sum()
}

#[test]
fn conforms_on_a_real_server() {
    let server = start_server();
    let next = AtomicU32::new(0);
    conformance::run_all(|| {
        let database = format!("conformance_{}", next.fetch_add(1, Ordering::Relaxed));
        server.open_store(&database).expect("open a fresh database")
    });
    conformance::persists_across_reopen(|| server.open_store("reopened").expect("open"));

    let store = server.open_store("details").unwrap();
    assert_eq!(store.backend(), "clickhouse");
    assert!(!store.server_version().is_empty());
    // Nothing old: no mutation is started, nothing counted.
    let purged = store
        .purge(PurgeCutoffs {
            edge_minutes_before: 0,
            edge_hours_before: 0,
            events_before: 0,
            batches_before: 0,
        })
        .unwrap();
    assert_eq!(purged, Purged::default());

    let Err(refused) = ClickHouseStore::open(&server.url(), "details", "default", "wrong") else {
        panic!("a wrong password must not open");
    };
    let text = refused.to_string();
    assert!(matches!(refused, StoreError::Connect { .. }), "{text}");
    assert!(text.contains(&server.url()), "{text}");
    assert!(text.contains("user and password"), "{text}");
}

/// The cases `flows.rs` explains: rows written without their ledger entry
/// (a crash in between), the same batch arriving several times at once,
/// and rows surviving background merges exactly as FINAL counted them.
#[test]
fn batches_count_once_without_transactions() {
    let server = start_server();
    let store = server.open_store("idempotency").unwrap();
    let rows = [row(T0, workload("shop", "web"), workload("shop", "api"), 5)];

    // Crash after the rows, before the ledger: the retry is applied, and
    // the rows count once.
    flows::write_rows(&store.connection, &batch("a", 1), &rows).unwrap();
    assert_eq!(
        store.apply_batch(&batch("a", 1), &rows).unwrap(),
        BatchOutcome::Applied
    );
    assert_eq!(connections(&store), 5);
    assert_eq!(
        store.apply_batch(&batch("a", 1), &rows).unwrap(),
        BatchOutcome::Duplicate
    );

    // Four copies of one batch at once.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| store.apply_batch(&batch("a", 2), &rows).unwrap());
        }
    });
    assert_eq!(connections(&store), 10);

    // Two rows of one batch for the same minute and edge add up (they would
    // collapse into one under FINAL if stored as two).
    let twice = [rows[0].clone(), rows[0].clone()];
    store.apply_batch(&batch("a", 3), &twice).unwrap();
    assert_eq!(connections(&store), 20);

    // After the merges ReplacingMergeTree does in the background (forced
    // here), the same totals.
    for table in ["edge_minutes", "applied_batches"] {
        store
            .connection
            .wait(
                "merge",
                store
                    .connection
                    .query(&format!("OPTIMIZE TABLE {table} FINAL"))
                    .execute(),
            )
            .unwrap();
    }
    assert_eq!(connections(&store), 20);
    let again = store
        .enroll_agent(
            &AgentEnrollment {
                agent_id: "a".into(),
                pubkey: "key-a".into(),
                at: T0,
                ..Default::default()
            },
            100,
        )
        .unwrap();
    assert_eq!(again.last_sequence, 3);
}

#[test]
fn open_errors_name_the_url_and_the_fix() {
    let Err(error) = ClickHouseStore::open("localhost:8123", "coral", "default", "") else {
        panic!("a URL without scheme must not open");
    };
    let text = error.to_string();
    assert!(text.contains("localhost:8123"), "{text}");
    assert!(text.contains("http://"), "{text}");

    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let Err(error) = ClickHouseStore::open(&url, "coral", "default", "") else {
        panic!("nothing listens on {url}");
    };
    let text = error.to_string();
    assert!(matches!(error, StoreError::Connect { .. }), "{text}");
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("running and reachable"), "{text}");

    let Err(error) = ClickHouseStore::open(&url, "no-dashes", "default", "") else {
        panic!("an invalid database name must not open");
    };
    assert!(error.to_string().contains("no-dashes"), "{error}");
}

#[test]
fn urls_in_messages_hide_credentials() {
    assert_eq!(
        redact("https://me:secret@ch.example:8443/?x=1"),
        "https://ch.example:8443/?x=1"
    );
    assert_eq!(redact("http://127.0.0.1:8123"), "http://127.0.0.1:8123");
}
