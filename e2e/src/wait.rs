//! Polling with a deadline; the error carries the last observation so a
//! failing test says what it saw.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

/// Calls `probe` every 250 ms until it returns `Ok(Some(value))`.
pub async fn poll_until<T, S: Debug, F, Fut>(
    what: &str,
    timeout: Duration,
    mut probe: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Result<T, S>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let seen = match probe().await? {
            Ok(value) => return Ok(value),
            Err(seen) => seen,
        };
        if Instant::now() > deadline {
            bail!(
                "timed out after {}s waiting for {what}; last seen: {seen:?}",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
