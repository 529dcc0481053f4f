//! Batches waiting for the colony: bounded, oldest dropped (and counted) when
//! full, sent strictly in order. A batch gets its sequence number the first
//! time it is sent and keeps it for every retry, so the colony can tell a
//! retry from a new batch.

use std::collections::VecDeque;

use coral_proto::Timestamp;
use coral_proto::agent::v1::Flow;

/// One drain interval's flows.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingBatch {
    /// Assigned on the first send attempt.
    pub sequence: Option<u64>,
    pub window_start: Timestamp,
    pub window_end: Timestamp,
    pub flows: Vec<Flow>,
}

#[derive(Debug)]
pub struct Outbox {
    queue: VecDeque<PendingBatch>,
    capacity: usize,
}

impl Outbox {
    pub fn new(capacity: usize) -> Self {
        Self {
            queue: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Queues a batch; returns how many old batches were dropped for it.
    pub fn push(&mut self, batch: PendingBatch) -> u64 {
        let mut dropped = 0;
        while self.queue.len() >= self.capacity {
            self.queue.pop_front();
            dropped += 1;
        }
        self.queue.push_back(batch);
        dropped
    }

    /// The oldest batch, numbered with `next_sequence()` if it has no number.
    pub fn head(&mut self, next_sequence: impl FnOnce() -> u64) -> Option<&PendingBatch> {
        let head = self.queue.front_mut()?;
        if head.sequence.is_none() {
            head.sequence = Some(next_sequence());
        }
        Some(head)
    }

    /// Removes the head after the colony acknowledged (or refused) it.
    pub fn pop(&mut self) -> Option<PendingBatch> {
        self.queue.pop_front()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(marker: i64) -> PendingBatch {
        PendingBatch {
            sequence: None,
            window_start: Timestamp {
                seconds: marker,
                nanos: 0,
            },
            window_end: Timestamp::default(),
            flows: Vec::new(),
        }
    }

    #[test]
    fn drops_oldest_when_full_and_keeps_order() {
        let mut outbox = Outbox::new(3);
        let dropped: u64 = (1..=5).map(|i| outbox.push(batch(i))).sum();
        assert_eq!(dropped, 2);
        assert_eq!(outbox.len(), 3);
        let order: Vec<i64> = std::iter::from_fn(|| outbox.pop())
            .map(|b| b.window_start.seconds)
            .collect();
        assert_eq!(order, [3, 4, 5]);
    }

    #[test]
    fn a_sequence_is_assigned_once_and_kept_for_retries() {
        let mut outbox = Outbox::new(10);
        outbox.push(batch(1));
        outbox.push(batch(2));
        let mut next = 7;
        let mut number = || {
            next += 1;
            next
        };
        assert_eq!(outbox.head(&mut number).unwrap().sequence, Some(8));
        // A retry of the same head: same number, the counter is not touched.
        assert_eq!(outbox.head(&mut number).unwrap().sequence, Some(8));
        outbox.pop();
        assert_eq!(outbox.head(&mut number).unwrap().sequence, Some(9));
    }
}
