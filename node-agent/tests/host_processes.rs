//! Host mode on one machine (what `coral connect` runs): clients and
//! servers all on 127.0.0.1, told apart by the process that connected. Real
//! processes (python3) in a network namespace of the test's own, the real
//! program in this kernel; the same in a second namespace, which is not
//! keyed by process. Needs root; fails, never skips.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use coral_node_agent::attribution::StaticMap;
use coral_node_agent::flow_report::attribute;
use coral_node_agent::{CaptureOptions, Direction, FlowCapture, FlowRecord};
use support::netns::NetnsPair;

const API_PORT: u16 = 18080;
const WEB_PORT: u16 = 13000;

/// A python3 process in `netns` running `script`; killed on drop.
struct Process(Child);

impl Process {
    /// Starts `script` and waits for its first line ("ready").
    fn start(netns: &str, script: &str) -> Result<Self> {
        let mut child = Command::new("ip")
            .args(["netns", "exec", netns, "python3", "-u", "-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .context("ip netns exec python3")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "ready" {
            let _ = child.kill();
            bail!("the process did not get ready: {line:?}");
        }
        Ok(Self(child))
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Listens on `port`, then makes `connections` connections to the API (each
/// sends a byte and waits for the close), then prints "ready" and waits.
fn client_script(listen: Option<u16>, connections: usize) -> String {
    let listen = listen.map_or(String::new(), |port| {
        format!("l = socket.socket(); l.bind(('127.0.0.1', {port})); l.listen(); ")
    });
    format!(
        "import socket, time\n{listen}\n\
         for _ in range({connections}):\n    \
             c = socket.create_connection(('127.0.0.1', {API_PORT})); c.sendall(b'x'); \
             c.shutdown(socket.SHUT_WR); c.recv(1); c.close()\n\
         print('ready')\ntime.sleep(600)\n"
    )
}

const API_SCRIPT: &str = "import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', 18080)); l.listen(128)
print('ready')
while True:
    c, _ = l.accept(); c.recv(1); c.close()
";

#[test]
fn loopback_clients_are_told_apart_by_their_process() -> Result<()> {
    let pair = NetnsPair::create(false)?;
    let netns = pair.client.name.clone();
    let cookie = pair.client.cookie()?;
    // The agent keys its own namespace by process; here that of the test's
    // processes plays that part.
    let mut capture = FlowCapture::start(CaptureOptions {
        process_netns: Some(cookie),
        ..CaptureOptions::default()
    })
    .expect("the sock_ops program must load and attach (run as root)");

    let _api = Process::start(&netns, API_SCRIPT)?;
    // `web` serves its own port and calls the API 7 times; `batch` calls it
    // 3 times and serves nothing.
    let web = Process::start(&netns, &client_script(Some(WEB_PORT), 7))?;
    let batch = Process::start(&netns, &client_script(None, 3))?;
    // The same in another namespace, which is not keyed by process.
    let other = pair.server.name.clone();
    let other_cookie = pair.server.cookie()?;
    let _other_api = Process::start(&other, API_SCRIPT)?;
    let _other_client = Process::start(&other, &client_script(None, 2))?;

    let mut records: Vec<FlowRecord> = Vec::new();
    let mut other_records: Vec<FlowRecord> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let outbound_closed = |records: &[FlowRecord]| -> u64 {
        records
            .iter()
            .filter(|r| r.direction == Direction::Outbound && r.server_port == API_PORT)
            .map(|r| r.closed)
            .sum()
    };
    while (outbound_closed(&records) < 10 || outbound_closed(&other_records) < 2)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(200));
        for record in capture.drain()?.flows {
            if record.netns_cookie == cookie {
                records.push(record);
            } else if record.netns_cookie == other_cookie {
                other_records.push(record);
            }
        }
    }
    assert_eq!(outbound_closed(&other_records), 2, "{other_records:#?}");
    assert!(
        other_records.iter().all(|r| r.pid.is_none()),
        "only the chosen namespace is keyed by process: {other_records:#?}"
    );

    let opened_by = |pid: Option<u32>| -> u64 {
        records
            .iter()
            .filter(|r| r.direction == Direction::Outbound && r.server_port == API_PORT)
            .filter(|r| r.pid == pid)
            .map(|r| r.opened)
            .sum()
    };
    assert_eq!(opened_by(Some(web.pid())), 7, "{records:#?}");
    assert_eq!(opened_by(Some(batch.pid())), 3, "{records:#?}");
    assert_eq!(opened_by(None), 0, "every connect has its process");
    // Accepted connections have no process (the accept side is not keyed).
    assert!(
        records
            .iter()
            .filter(|r| r.direction == Direction::Inbound)
            .all(|r| r.pid.is_none())
    );

    // Attributed as `coral connect web --port 13000` and `api --port 18080`
    // would: web → api with its 7 connections; batch serves no port, so it
    // is an external client of api (3). Each connection once: the accepting
    // side leaves loopback clients to the connecting side.
    let map = StaticMap::new(vec![
        format!("web=127.0.0.1:{WEB_PORT}").parse()?,
        format!("api=127.0.0.1:{API_PORT}").parse()?,
    ]);
    let attributed = attribute(&records, &map);
    let edges: Vec<(String, String, u64)> = attributed
        .flows
        .iter()
        .map(|f| {
            let (s, d) = (f.source.as_ref().unwrap(), f.destination.as_ref().unwrap());
            (s.workload.clone(), d.workload.clone(), f.connections_opened)
        })
        .collect();
    let web_to_api: u64 = edges
        .iter()
        .filter(|(s, d, _)| s == "web" && d == "api")
        .map(|(_, _, n)| n)
        .sum();
    assert_eq!(web_to_api, 7, "{edges:?}");
    let unnamed_to_api: u64 = edges
        .iter()
        .filter(|(s, d, _)| s.is_empty() && d == "api")
        .map(|(_, _, n)| n)
        .sum();
    assert_eq!(unnamed_to_api, 3, "{edges:?}");
    assert_eq!(
        edges.iter().map(|(_, _, n)| n).sum::<u64>(),
        10,
        "{edges:?}"
    );
    assert_eq!(
        attributed.left_to_client, 1,
        "the inbound record: {attributed:?}"
    );
    Ok(())
}
