//! Per-source-IP token buckets for registrations, so one client cannot
//! flood the registry.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

pub struct RateLimiter {
    /// Tokens per second; 0 disables limiting.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate_per_second: f64, burst: u32) -> Self {
        RateLimiter {
            rate: if rate_per_second.is_finite() {
                rate_per_second.max(0.0)
            } else {
                0.0
            },
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn enabled(&self) -> bool {
        self.rate > 0.0
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now
            .saturating_duration_since(bucket.refilled_at)
            .as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.refilled_at = now;
    }

    /// Take one token for `source`; `false` means the caller is over its limit.
    pub fn try_acquire(&self, source: IpAddr, now: Instant) -> bool {
        if !self.enabled() {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(source).or_insert(Bucket {
            tokens: self.burst,
            refilled_at: now,
        });
        self.refill(bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forget sources whose bucket has refilled completely (they would start
    /// full anyway), keeping memory bounded by recent senders.
    pub fn prune(&self, now: Instant) -> usize {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let before = buckets.len();
        buckets.retain(|_, bucket| {
            let mut copy = *bucket;
            self.refill(&mut copy, now);
            copy.tokens < self.burst
        });
        before - buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SOURCE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn allows_a_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.try_acquire(SOURCE, start)));
        assert!(!limiter.try_acquire(SOURCE, start));
        assert!(limiter.try_acquire(SOURCE, start + Duration::from_millis(500)));
        assert!(!limiter.try_acquire(SOURCE, start + Duration::from_millis(500)));
    }

    #[test]
    fn sources_are_independent_and_zero_rate_disables() {
        let limiter = RateLimiter::new(1.0, 1);
        let now = Instant::now();
        assert!(limiter.try_acquire(SOURCE, now));
        assert!(limiter.try_acquire("10.0.0.1".parse().unwrap(), now));
        assert!(!limiter.try_acquire(SOURCE, now));
        let off = RateLimiter::new(0.0, 1);
        assert!((0..100).all(|_| off.try_acquire(SOURCE, now)));
    }

    #[test]
    fn prune_forgets_full_buckets() {
        let limiter = RateLimiter::new(1.0, 2);
        let now = Instant::now();
        limiter.try_acquire(SOURCE, now);
        assert_eq!(limiter.prune(now), 0);
        assert_eq!(limiter.prune(now + Duration::from_secs(5)), 1);
    }
}
