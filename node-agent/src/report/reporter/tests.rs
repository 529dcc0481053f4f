//! The reporting loop against a scripted colony: outages, lost
//! acknowledgements, a full buffer and sequence resumption.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use coral_proto::agent::v1::{EnrollResponse, Flow, HeartbeatResponse, ReportFlowsResponse};

use super::*;

#[derive(Default)]
struct FakeColony {
    up: bool,
    enrollments: u32,
    /// The colony's stored ledger: sequence → flows in the batch.
    stored: BTreeMap<u64, usize>,
    /// Store the next batch but lose the response (agent sees an error).
    lose_next_ack: bool,
    attempts: u32,
    heartbeats: u32,
}

#[derive(Clone, Default)]
struct FakeLink(Arc<Mutex<FakeColony>>);

impl FakeLink {
    fn set_up(&self, up: bool) {
        self.0.lock().unwrap().up = up;
    }
    fn stored(&self) -> Vec<u64> {
        self.0.lock().unwrap().stored.keys().copied().collect()
    }
}

fn down() -> Status {
    Status::unavailable("connection refused")
}

impl ColonyLink for FakeLink {
    async fn enroll(&mut self, request: EnrollRequest) -> Result<EnrollResponse, Status> {
        let mut colony = self.0.lock().unwrap();
        if !colony.up {
            return Err(down());
        }
        if request.token != "t" {
            return Err(Status::unauthenticated("bad token"));
        }
        colony.enrollments += 1;
        Ok(EnrollResponse {
            last_sequence: colony.stored.keys().next_back().copied().unwrap_or(0),
            ..Default::default()
        })
    }

    async fn heartbeat(&mut self, _: HeartbeatRequest) -> Result<HeartbeatResponse, Status> {
        let mut colony = self.0.lock().unwrap();
        colony.heartbeats += 1;
        if colony.up {
            Ok(HeartbeatResponse::default())
        } else {
            Err(down())
        }
    }

    async fn report(&mut self, batch: FlowBatch) -> Result<ReportFlowsResponse, Status> {
        let mut colony = self.0.lock().unwrap();
        colony.attempts += 1;
        if !colony.up {
            return Err(down());
        }
        let duplicate = colony
            .stored
            .insert(batch.sequence, batch.flows.len())
            .is_some();
        if std::mem::take(&mut colony.lose_next_ack) {
            return Err(Status::deadline_exceeded("response lost"));
        }
        Ok(ReportFlowsResponse {
            acknowledged_sequence: batch.sequence,
            duplicate,
        })
    }
}

fn config(buffer_batches: usize) -> ReporterConfig {
    ReporterConfig {
        agent_id: "node-1".into(),
        node_name: "node-1".into(),
        enrollment_token: "t".into(),
        pubkey: "k".into(),
        colony_endpoint: "fake".into(),
        heartbeat_interval: Duration::from_secs(10),
        buffer_batches,
        max_retry_interval: Duration::from_secs(2),
        shutdown_grace: Duration::from_secs(5),
        components: Default::default(),
    }
}

fn batch(flows: usize) -> PendingBatch {
    PendingBatch {
        sequence: None,
        window_start: Timestamp::now(),
        window_end: Timestamp::now(),
        flows: vec![Flow::default(); flows],
    }
}

struct Running {
    tx: mpsc::UnboundedSender<PendingBatch>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Reporter<FakeLink>>,
    metrics: ColonyMetrics,
}

fn start(link: &FakeLink, buffer: usize, state: Option<StateDir>) -> Running {
    let metrics = ColonyMetrics::default();
    let reporter = Reporter::new(link.clone(), config(buffer), metrics.clone(), state);
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(reporter.run(rx, async {
        let _ = stopped.await;
    }));
    Running {
        tx,
        stop,
        task,
        metrics,
    }
}

async fn settle() {
    tokio::time::sleep(Duration::from_secs(30)).await;
}

#[tokio::test(start_paused = true)]
async fn outage_buffers_then_delivers_in_order_exactly_once() {
    let link = FakeLink::default();
    link.set_up(true);
    let run = start(&link, 100, None);
    run.tx.send(batch(1)).unwrap();
    settle().await;
    assert_eq!(link.stored(), [1]);

    link.set_up(false);
    for flows in 2..=6 {
        run.tx.send(batch(flows)).unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    assert_eq!(link.stored(), [1], "nothing gets through while down");
    assert_eq!(run.metrics.batches_buffered.get(), 5);
    assert!(run.metrics.batches_failed.get() >= 2);

    // Back, but the first acknowledgement is lost: the retry carries the
    // same number and the colony does not store it twice.
    {
        let mut colony = link.0.lock().unwrap();
        colony.up = true;
        colony.lose_next_ack = true;
    }
    settle().await;
    {
        let colony = link.0.lock().unwrap();
        assert_eq!(
            colony.stored.keys().copied().collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
        // Each batch kept its flows: sequence n carried n flows.
        assert!(
            colony
                .stored
                .iter()
                .all(|(seq, flows)| *seq as usize == *flows)
        );
    }
    assert_eq!(run.metrics.batches_sent.get(), 6);
    assert_eq!(run.metrics.batches_duplicate.get(), 1);
    assert_eq!(run.metrics.batches_buffered.get(), 0);
    assert_eq!(run.metrics.batches_dropped.get(), 0);
    run.stop.send(()).unwrap();
    run.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_drops_the_oldest_and_counts_them() {
    let link = FakeLink::default();
    let run = start(&link, 3, None);
    for flows in 1..=5 {
        run.tx.send(batch(flows)).unwrap();
    }
    settle().await;
    assert_eq!(run.metrics.batches_dropped.get(), 2);
    link.set_up(true);
    settle().await;
    // The three newest arrived, numbered from 1 in order.
    assert_eq!(
        link.0
            .lock()
            .unwrap()
            .stored
            .values()
            .copied()
            .collect::<Vec<_>>(),
        [3, 4, 5]
    );
    run.stop.send(()).unwrap();
    run.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn sequence_resumes_after_the_colony_and_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path()).unwrap();
    let link = FakeLink::default();
    link.0.lock().unwrap().stored.insert(41, 0);
    link.set_up(true);

    let run = start(&link, 10, Some(state.clone()));
    run.tx.send(batch(1)).unwrap();
    settle().await;
    assert_eq!(link.stored(), [41, 42]);
    assert_eq!(state.last_sequence().unwrap(), 42);
    run.stop.send(()).unwrap();
    run.task.await.unwrap();

    // A colony that lost its ledger: the agent's own counter still wins.
    link.0.lock().unwrap().stored.clear();
    let run = start(&link, 10, Some(state.clone()));
    run.tx.send(batch(1)).unwrap();
    settle().await;
    assert_eq!(link.stored(), [43]);
    run.stop.send(()).unwrap();
    run.task.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn stopping_delivers_what_is_buffered_within_the_grace_period() {
    let link = FakeLink::default();
    let run = start(&link, 10, None);
    run.tx.send(batch(1)).unwrap();
    run.tx.send(batch(2)).unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    link.set_up(true);
    run.stop.send(()).unwrap();
    // The last batch arrives after the stop request; it is still sent.
    run.tx.send(batch(3)).unwrap();
    let reporter = run.task.await.unwrap();
    assert_eq!(reporter.buffered(), 0);
    assert_eq!(link.stored(), [1, 2, 3]);
}

#[test]
fn retry_delays_double_up_to_the_cap() {
    let max = Duration::from_secs(5);
    let delays: Vec<u64> = (1..=7)
        .map(|n| retry_delay(n, max).as_millis() as u64)
        .collect();
    assert_eq!(delays, [250, 500, 1000, 2000, 4000, 5000, 5000]);
}
