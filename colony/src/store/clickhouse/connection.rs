//! The HTTP client and the small runtime it runs on. The `Store` trait is
//! synchronous (the service calls it from `spawn_blocking`), the
//! `clickhouse` crate is async: each call blocks the calling thread on the
//! store's own runtime, whose one worker thread drives the connections.

use std::future::Future;
use std::time::{Duration, Instant};

use clickhouse::Client;
use clickhouse::query::Query;
use tokio::runtime::Runtime;

use crate::store::StoreError;

/// Longest a single statement may take before the call fails (and the
/// agent's batch is retried later).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a retention delete (an asynchronous mutation) may run before
/// `purge` reports it as unfinished.
const MUTATION_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Connection {
    client: Client,
    /// `Some` until dropped: a runtime must not be dropped on an async
    /// thread, so `Drop` takes it out and shuts it down in the background.
    runtime: Option<Runtime>,
    url: String,
    database: String,
}

impl Connection {
    /// A client for `database` (not yet checked or created).
    pub fn new(url: &str, database: &str, user: &str, password: &str) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("clickhouse-io")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the ClickHouse client runtime: {e}"))?;
        // Validation off: plain RowBinary and client-side `?` binds, which
        // is what ClickHouse 18.16 understands (RowBinaryWithNamesAndTypes
        // and server-side parameters are newer).
        let client = Client::default()
            .with_url(url)
            .with_user(user)
            .with_password(password)
            .with_validation(false);
        Ok(Connection {
            client,
            runtime: Some(runtime),
            url: url.to_owned(),
            database: database.to_owned(),
        })
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    /// The client without a database (to create it).
    pub fn server_client(&self) -> &Client {
        &self.client
    }

    /// The client for the store's database.
    pub fn client(&self) -> Client {
        self.client.clone().with_database(&self.database)
    }

    pub fn query(&self, sql: &str) -> Query {
        self.client().query(sql)
    }

    /// Run `future` to completion on the store's runtime, with a timeout;
    /// errors become `StoreError::Backend` naming the server and `what`.
    pub fn wait<T>(
        &self,
        what: &str,
        future: impl Future<Output = clickhouse::error::Result<T>>,
    ) -> Result<T, StoreError> {
        self.run(future).map_err(|detail| {
            StoreError::Backend(format!("ClickHouse at {} ({what}): {detail}", self.url))
        })
    }

    /// As `wait`, with the bare error text (its causes included).
    pub fn run<T>(
        &self,
        future: impl Future<Output = clickhouse::error::Result<T>>,
    ) -> Result<T, String> {
        let runtime = self
            .runtime
            .as_ref()
            .expect("the runtime is only taken out on drop");
        match runtime.block_on(async { tokio::time::timeout(STATEMENT_TIMEOUT, future).await }) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(with_causes(&error)),
            Err(_) => Err(format!(
                "no answer within {} s",
                STATEMENT_TIMEOUT.as_secs()
            )),
        }
    }

    /// `SELECT count() …` with binds already applied.
    pub fn count(&self, what: &str, query: Query) -> Result<u64, StoreError> {
        self.wait(what, query.fetch_one::<u64>())
    }

    /// Delete the rows of `table` with `column < before` (an `ALTER TABLE
    /// … DELETE` mutation, which ClickHouse runs asynchronously: 18.16 has
    /// no `mutations_sync`, so wait for `system.mutations` to report it
    /// done, which works on every version). Returns the rows deleted,
    /// counted first (`FINAL` where the table collapses duplicates).
    pub fn delete_before(
        &self,
        table: &str,
        column: &str,
        before: i64,
        collapsing: bool,
    ) -> Result<u64, StoreError> {
        let final_ = if collapsing { " FINAL" } else { "" };
        let doomed = self.count(
            "count rows to purge",
            self.query(&format!(
                "SELECT count() FROM {table}{final_} WHERE {column} < ?"
            ))
            .bind(before),
        )?;
        if doomed == 0 {
            return Ok(0);
        }
        self.wait(
            "delete old rows",
            self.query(&format!("ALTER TABLE {table} DELETE WHERE {column} < ?"))
                .bind(before)
                .execute(),
        )?;
        let started = Instant::now();
        loop {
            let running = self.count(
                "check the delete's progress",
                self.client()
                    .query(
                        "SELECT count() FROM system.mutations \
                         WHERE database = ? AND table = ? AND is_done = 0",
                    )
                    .bind(self.database.as_str())
                    .bind(table),
            )?;
            if running == 0 {
                return Ok(doomed);
            }
            if started.elapsed() > MUTATION_TIMEOUT {
                return Err(StoreError::Backend(format!(
                    "ClickHouse at {}: deleting old rows of {}.{table} has not finished after \
                     {} s; see system.mutations on the server",
                    self.url,
                    self.database,
                    MUTATION_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// "network error: client error (Connect)" says little without its
/// causes ("… tcp connect error: Connection refused").
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
