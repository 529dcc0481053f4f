//! Kernel tests: the real sock_ops program on this kernel, real TCP between
//! two network namespaces. Needs root; fails (does not skip) when the program
//! cannot load. Each test loads its own program instance and asserts only on
//! its own namespaces' cookies, so tests can run in parallel.

mod support;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::Result;
use coral_node_agent::{CaptureOptions, Direction, FlowCapture, FlowRecord};
use support::netns::NetnsPair;
use support::traffic::{self, CLOSED_PORT, Exchange};

type FlowId = (u64, Direction, IpAddr, IpAddr, u16);

/// Drained counts per flow, summed over drains.
#[derive(Default)]
struct Totals(HashMap<FlowId, FlowRecord>);

impl Totals {
    fn add(&mut self, record: FlowRecord) {
        let id = (
            record.netns_cookie,
            record.direction,
            record.local_addr,
            record.remote_addr,
            record.server_port,
        );
        match self.0.get_mut(&id) {
            None => {
                self.0.insert(id, record);
            }
            Some(sum) => {
                sum.opened += record.opened;
                sum.closed += record.closed;
                sum.failed += record.failed;
                sum.resets += record.resets;
                sum.bytes_sent += record.bytes_sent;
                sum.bytes_received += record.bytes_received;
                sum.srtt_sum_us += record.srtt_sum_us;
                sum.srtt_samples += record.srtt_samples;
            }
        }
    }

    fn get(&self, id: &FlowId) -> Option<&FlowRecord> {
        self.0.get(id)
    }
}

/// Drains until `done` holds or 10 s pass (closes finish asynchronously).
fn drain_until(capture: &mut FlowCapture, done: impl Fn(&Totals) -> bool) -> Result<Totals> {
    let mut totals = Totals::default();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let report = capture.drain()?;
        assert_eq!(report.dropped_map_full_total, 0, "flow map overflowed");
        report.flows.into_iter().for_each(|r| totals.add(r));
        if done(&totals) || Instant::now() > deadline {
            return Ok(totals);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn assert_within_1_percent(what: &str, measured: u64, expected: u64) {
    let diff = measured.abs_diff(expected) as f64;
    assert!(
        diff <= expected as f64 * 0.01,
        "{what}: measured {measured}, expected {expected} ±1 %"
    );
}

fn exchange_is_counted_exactly(ipv6: bool) -> Result<()> {
    let mut capture = FlowCapture::start(CaptureOptions::default())
        .expect("the sock_ops program must load and attach (run as root)");
    let pair = NetnsPair::create(ipv6)?;
    let (client_cookie, server_cookie) = (pair.client.cookie()?, pair.server.cookie()?);
    assert_ne!(client_cookie, server_cookie);

    let exchange = Exchange {
        connections: 40,
        request_bytes: 20_000,
        response_bytes: 60_000,
        refused_connects: 7,
    };
    let port = traffic::run(&pair, &exchange)?;
    let (c, s) = (pair.client_addr, pair.server_addr);
    let outbound = (client_cookie, Direction::Outbound, c, s, port);
    let inbound = (server_cookie, Direction::Inbound, s, c, port);
    let refused = (client_cookie, Direction::Outbound, c, s, CLOSED_PORT);
    let n = exchange.connections as u64;
    let totals = drain_until(&mut capture, |t| {
        let closed = |id| t.get(id).is_some_and(|r: &FlowRecord| r.closed >= n);
        closed(&outbound)
            && closed(&inbound)
            && t.get(&refused)
                .is_some_and(|r| r.failed >= exchange.refused_connects as u64)
    })?;

    let sent = n * exchange.request_bytes as u64;
    let received = n * exchange.response_bytes as u64;
    let out = totals.get(&outbound).expect("no outbound flow");
    assert_eq!(
        (out.opened, out.closed, out.failed, out.resets),
        (n, n, 0, 0),
        "{out:?}"
    );
    assert_within_1_percent("client bytes sent", out.bytes_sent, sent);
    assert_within_1_percent("client bytes received", out.bytes_received, received);
    assert!(out.mean_srtt().is_some_and(|rtt| !rtt.is_zero()), "{out:?}");

    let inb = totals.get(&inbound).expect("no inbound flow");
    assert_eq!(
        (inb.opened, inb.closed, inb.failed, inb.resets),
        (n, n, 0, 0),
        "{inb:?}"
    );
    assert_within_1_percent("server bytes received", inb.bytes_received, sent);
    assert_within_1_percent("server bytes sent", inb.bytes_sent, received);
    assert!(inb.mean_srtt().is_some_and(|rtt| !rtt.is_zero()), "{inb:?}");

    let failed = totals.get(&refused).expect("no flow for refused connects");
    assert_eq!(
        failed.failed, exchange.refused_connects as u64,
        "{failed:?}"
    );
    assert_eq!((failed.opened, failed.closed), (0, 0), "{failed:?}");

    // Nothing else appeared in our namespaces (no stray or duplicate flows).
    let ours = totals
        .0
        .keys()
        .filter(|id| id.0 == client_cookie || id.0 == server_cookie)
        .count();
    assert_eq!(ours, 3, "flows: {:?}", totals.0.keys().collect::<Vec<_>>());
    Ok(())
}

#[test]
fn ipv4_connections_bytes_and_refused_connects_are_counted_exactly() -> Result<()> {
    exchange_is_counted_exactly(false)
}

#[test]
fn ipv6_connections_bytes_and_refused_connects_are_counted_exactly() -> Result<()> {
    exchange_is_counted_exactly(true)
}

/// A client an agent reports on the connecting side: its accepted
/// connections are not counted at all (user space would leave them to the
/// client), until it is no longer listed.
#[test]
fn accepted_connections_from_observed_clients_are_not_counted() -> Result<()> {
    let mut capture = FlowCapture::start(CaptureOptions::default())
        .expect("the sock_ops program must load and attach (run as root)");
    let pair = NetnsPair::create(false)?;
    let (client_cookie, server_cookie) = (pair.client.cookie()?, pair.server.cookie()?);
    let (c, s) = (pair.client_addr, pair.server_addr);
    let exchange = Exchange {
        connections: 20,
        request_bytes: 100,
        response_bytes: 100,
        refused_connects: 0,
    };
    let n = exchange.connections as u64;
    let opened_by = |totals: &Totals, cookie: u64| -> u64 {
        totals
            .0
            .iter()
            .filter(|(id, _)| id.0 == cookie)
            .map(|(_, r)| r.opened)
            .sum()
    };

    capture.set_observed_clients([c])?;
    let port = traffic::run(&pair, &exchange)?;
    let outbound = (client_cookie, Direction::Outbound, c, s, port);
    let totals = drain_until(&mut capture, |t| {
        t.get(&outbound).is_some_and(|r| r.closed >= n)
    })?;
    let out = totals.get(&outbound).expect("no outbound flow");
    assert_eq!((out.opened, out.closed), (n, n), "{out:?}");
    // Drained after every close: an inbound count would be here by now.
    assert_eq!(opened_by(&totals, server_cookie), 0, "{:?}", totals.0);

    capture.set_observed_clients([])?;
    let port = traffic::run(&pair, &exchange)?;
    let inbound = (server_cookie, Direction::Inbound, s, c, port);
    let totals = drain_until(&mut capture, |t| {
        t.get(&inbound).is_some_and(|r| r.closed >= n)
    })?;
    let inb = totals.get(&inbound).expect("no inbound flow once unlisted");
    assert_eq!((inb.opened, inb.closed), (n, n), "{inb:?}");
    Ok(())
}
