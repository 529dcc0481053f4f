//! Periodic purge of data older than the retention.

use std::time::Duration;

use crate::service::{Colony, unix_now};
use crate::store::PurgeCutoffs;

/// The cut-offs for "keep `retention`, as of `now`".
pub fn cutoffs(now: i64, retention: Duration) -> PurgeCutoffs {
    let keep = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    let before = now.saturating_sub(keep);
    PurgeCutoffs {
        edge_minutes_before: before,
        events_before: before,
        // Batches older than the retention are refused anyway, so their
        // ledger entries are no longer needed for idempotency.
        batches_before: before,
    }
}

/// Purge now and then every `interval`, forever (aborted at shutdown).
pub async fn run(colony: Colony, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let cutoffs = cutoffs(unix_now(), colony.settings().retention);
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
    fn cutoffs_are_retention_before_now() {
        let c = cutoffs(1_000_000, Duration::from_secs(7 * 86_400));
        assert_eq!(c.edge_minutes_before, 1_000_000 - 604_800);
        assert_eq!(c.events_before, c.edge_minutes_before);
    }
}
