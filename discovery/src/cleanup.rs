//! The periodic purge of expired leases. Expired entries are already
//! invisible to lookups; this frees their memory and counts them.

use std::time::Duration;

use crate::service::Discovery;

pub async fn run(discovery: Discovery, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; nothing has expired yet
    loop {
        ticker.tick().await;
        let (colonies, agents) = discovery.purge_expired();
        if colonies + agents > 0 {
            tracing::info!(colonies, agents, "purged expired registrations");
        } else {
            tracing::debug!("cleanup found nothing expired");
        }
    }
}
