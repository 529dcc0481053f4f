//! A table of TTL leases keyed by id, each owned by a public key. Expired
//! leases are invisible at once and removed by [`LeaseTable::purge_expired`].
//! Time is passed in, so the rules are tested without sleeping.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

/// One instant on both clocks: monotonic for expiry, wall for clients.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub mono: Instant,
    pub wall: SystemTime,
}

impl Now {
    pub fn current() -> Self {
        Now {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

#[derive(Debug, Clone)]
struct Lease<T> {
    owner: String,
    record: T,
    last_seen: SystemTime,
    expires_at: Instant,
}

/// What a successful [`LeaseTable::upsert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created,
    Renewed,
    /// An expired lease of another owner was replaced.
    ReplacedExpired,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub outcome: Upsert,
    pub expires_at: SystemTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseError {
    /// A live lease is held by another public key.
    HeldByAnother,
    /// The table is at capacity and the id is new.
    Full,
    /// Removal asked with a key that is not the owner's.
    NotOwner,
}

/// A live record as seen by a lookup.
#[derive(Debug, Clone)]
pub struct Found<T> {
    pub record: T,
    pub last_seen: SystemTime,
}

pub struct LeaseTable<T> {
    leases: RwLock<HashMap<String, Lease<T>>>,
    ttl: Duration,
    capacity: usize,
}

impl<T: Clone> LeaseTable<T> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        LeaseTable {
            leases: RwLock::new(HashMap::new()),
            ttl,
            capacity,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Create or renew `id` for `owner`. A live lease of a different owner is
    /// never overwritten (no hijacking); an expired one is.
    pub fn upsert(
        &self,
        id: &str,
        owner: &str,
        record: T,
        now: Now,
    ) -> Result<Granted, LeaseError> {
        let mut leases = self.leases.write().unwrap_or_else(|e| e.into_inner());
        let outcome = match leases.get(id) {
            Some(lease) if lease.expires_at > now.mono && lease.owner != owner => {
                return Err(LeaseError::HeldByAnother);
            }
            Some(lease) if lease.expires_at > now.mono => Upsert::Renewed,
            Some(_) => Upsert::ReplacedExpired,
            None => Upsert::Created,
        };
        if outcome == Upsert::Created && leases.len() >= self.capacity {
            // Expired leases awaiting the cleanup loop do not hold capacity.
            leases.retain(|_, lease| lease.expires_at > now.mono);
            if leases.len() >= self.capacity {
                return Err(LeaseError::Full);
            }
        }
        let lease = Lease {
            owner: owner.to_owned(),
            record,
            last_seen: now.wall,
            expires_at: now.mono + self.ttl,
        };
        leases.insert(id.to_owned(), lease);
        Ok(Granted {
            outcome,
            expires_at: now.wall + self.ttl,
        })
    }

    /// The live record under `id`, if any.
    pub fn get(&self, id: &str, now: Instant) -> Option<Found<T>> {
        let leases = self.leases.read().unwrap_or_else(|e| e.into_inner());
        leases
            .get(id)
            .filter(|lease| lease.expires_at > now)
            .map(|lease| Found {
                record: lease.record.clone(),
                last_seen: lease.last_seen,
            })
    }

    /// Remove `id` if `owner` holds it. `Ok(false)` when there is no live lease.
    pub fn remove(&self, id: &str, owner: &str, now: Instant) -> Result<bool, LeaseError> {
        let mut leases = self.leases.write().unwrap_or_else(|e| e.into_inner());
        match leases.get(id) {
            Some(lease) if lease.expires_at <= now => Ok(false),
            Some(lease) if lease.owner != owner => Err(LeaseError::NotOwner),
            Some(_) => Ok(leases.remove(id).is_some()),
            None => Ok(false),
        }
    }

    /// Drop every expired lease; returns how many were dropped.
    pub fn purge_expired(&self, now: Instant) -> usize {
        let mut leases = self.leases.write().unwrap_or_else(|e| e.into_inner());
        let before = leases.len();
        leases.retain(|_, lease| lease.expires_at > now);
        before - leases.len()
    }

    pub fn live_count(&self, now: Instant) -> usize {
        let leases = self.leases.read().unwrap_or_else(|e| e.into_inner());
        leases
            .values()
            .filter(|lease| lease.expires_at > now)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(10);

    fn table() -> LeaseTable<u32> {
        LeaseTable::new(TTL, 2)
    }

    #[test]
    fn same_owner_renews_other_owner_is_refused_while_live() {
        let t = table();
        let now = Now::current();
        assert_eq!(
            t.upsert("a", "k1", 1, now).unwrap().outcome,
            Upsert::Created
        );
        assert_eq!(
            t.upsert("a", "k1", 2, now).unwrap().outcome,
            Upsert::Renewed
        );
        assert_eq!(t.upsert("a", "k2", 3, now), Err(LeaseError::HeldByAnother));
        assert_eq!(t.get("a", now.mono).unwrap().record, 2);
    }

    #[test]
    fn expired_leases_vanish_at_once_and_can_be_taken_over() {
        let t = table();
        let now = Now::current();
        let granted = t.upsert("a", "k1", 1, now).unwrap();
        assert_eq!(granted.expires_at, now.wall + TTL);
        let later = Now {
            mono: now.mono + TTL,
            wall: now.wall + TTL,
        };
        assert!(t.get("a", later.mono).is_none());
        assert_eq!(t.live_count(later.mono), 0);
        assert_eq!(
            t.upsert("a", "k2", 2, later).unwrap().outcome,
            Upsert::ReplacedExpired
        );
        assert_eq!(t.get("a", later.mono).unwrap().record, 2);
    }

    #[test]
    fn purge_drops_only_expired() {
        let t = table();
        let now = Now::current();
        t.upsert("old", "k", 1, now).unwrap();
        let later = Now {
            mono: now.mono + TTL,
            wall: now.wall + TTL,
        };
        t.upsert("new", "k", 2, later).unwrap();
        assert_eq!(t.purge_expired(later.mono), 1);
        assert!(t.get("new", later.mono).is_some());
    }

    #[test]
    fn removal_needs_the_owner() {
        let t = table();
        let now = Now::current();
        t.upsert("a", "k1", 1, now).unwrap();
        assert_eq!(t.remove("a", "k2", now.mono), Err(LeaseError::NotOwner));
        assert_eq!(t.remove("a", "k1", now.mono), Ok(true));
        assert_eq!(t.remove("a", "k1", now.mono), Ok(false));
    }

    #[test]
    fn capacity_refuses_new_ids_but_not_renewals() {
        let t = table();
        let now = Now::current();
        t.upsert("a", "k", 1, now).unwrap();
        t.upsert("b", "k", 1, now).unwrap();
        assert_eq!(t.upsert("c", "k", 1, now), Err(LeaseError::Full));
        assert!(t.upsert("a", "k", 2, now).is_ok());
    }
}
