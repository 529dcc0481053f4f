//! How long what is kept, and the periodic purge: minute rollups for the
//! minute retention, then folded into hourly rollups kept for the hourly
//! retention; events and the batch ledger for their own.

use std::time::Duration;

use crate::service::{Colony, unix_now};
use crate::store::PurgeCutoffs;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Minute rollups, and the batch ledger (older batches are refused).
    pub minutes: Duration,
    /// Hourly rollups (at least `minutes`).
    pub hours: Duration,
    pub events: Duration,
}

impl Retention {
    /// The longest window a query may ask for.
    pub fn longest(&self) -> Duration {
        self.minutes.max(self.hours)
    }
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// The cut-offs for `retention`, as of `now`.
pub fn cutoffs(now: i64, retention: &Retention) -> PurgeCutoffs {
    let minutes_before = now.saturating_sub(seconds(retention.minutes));
    PurgeCutoffs {
        // Whole hours only: the fold writes complete hours.
        edge_minutes_before: crate::store::resolution::hour_floor(minutes_before),
        edge_hours_before: now.saturating_sub(seconds(retention.hours)),
        events_before: now.saturating_sub(seconds(retention.events)),
        // Batches older than the minute retention are refused anyway, so
        // their ledger entries are no longer needed for idempotency.
        batches_before: minutes_before,
    }
}

/// Purge now and then every `interval`, forever (aborted at shutdown).
pub async fn run(colony: Colony, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let cutoffs = cutoffs(unix_now(), &colony.settings().retention);
        let store = colony.store();
        match tokio::task::spawn_blocking(move || store.purge(cutoffs)).await {
            Ok(Ok(purged)) => tracing::debug!(?purged, "retention purge done"),
            Ok(Err(error)) => {
                colony.metrics().store_errors.inc();
                tracing::warn!(%error, "retention purge failed; will retry");
            }
            Err(error) => tracing::warn!(%error, "retention purge task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_follow_each_retention() {
        let days = |n: u64| Duration::from_secs(n * 86_400);
        let retention = Retention {
            minutes: days(7),
            hours: days(30),
            events: days(14),
        };
        let now = 1_000_000_123;
        let c = cutoffs(now, &retention);
        assert_eq!(c.edge_minutes_before % 3_600, 0);
        assert!(now - 604_800 - c.edge_minutes_before < 3_600);
        assert_eq!(c.edge_hours_before, now - 30 * 86_400);
        assert_eq!(c.events_before, now - 14 * 86_400);
        assert_eq!(c.batches_before, now - 604_800);
        assert_eq!(retention.longest(), days(30));
    }
}
