//! Lookups driven by h2load (nghttp2's HTTP/2 load generator): one C
//! thread that costs far less CPU per request than a tonic client, so on a
//! 2-core machine the figures are the server's rather than the client's.
//!
//! h2load sends one request body per run, so the gRPC load is a few runs,
//! each asking for one id; Connect's GET form carries the request in the
//! URL, so one run cycles through every registered id. Latencies come from
//! h2load's `--log-file` (one line per request, warm-up excluded).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use coral_proto::discovery::v1::LookupColonyRequest;
use prost::Message as _;

use crate::register::mesh_id;
use crate::server::ServerProcess;
use crate::stats::Measurement;

const LOOKUP_PATH: &str = "/coral.discovery.v1.DiscoveryService/LookupColony";
const WARM_UP: Duration = Duration::from_secs(1);

pub struct H2load {
    pub binary: PathBuf,
    pub connections: usize,
    pub streams: usize,
    /// Scratch directory for request bodies, URI lists and logs.
    pub dir: PathBuf,
}

/// What one h2load run measured.
struct Run {
    latencies_us: Vec<u32>,
    client_cpu: Option<f64>,
    server_cpu: Option<f64>,
    wall: Duration,
}

impl H2load {
    fn describe(&self) -> String {
        format!(
            "h2load -t 1 -c {} -m {}",
            self.connections.max(1),
            self.streams.max(1)
        )
    }

    /// LookupColony over gRPC (what agents use): `runs` runs splitting
    /// `seconds`, run k asking for one id spread over `0..colonies`.
    pub fn grpc(
        &self,
        server: &ServerProcess,
        colonies: usize,
        runs: usize,
        seconds: f64,
    ) -> Result<Measurement> {
        let runs = runs.clamp(1, colonies.max(1));
        let each = Duration::from_secs_f64(seconds / runs as f64);
        let url = format!("http://{}{LOOKUP_PATH}", server.addr);
        let mut total = Run::empty();
        let mut ids = Vec::new();
        for k in 0..runs {
            let id = mesh_id(k * colonies / runs);
            let body = self.dir.join(format!("lookup-{k}.grpc"));
            std::fs::write(&body, grpc_frame(&id))
                .with_context(|| format!("cannot write {}", body.display()))?;
            let mut args: Vec<String> = vec!["-d".into(), path_arg(&body)];
            args.extend(
                ["-H", "content-type: application/grpc", "-H", "te: trailers"].map(String::from),
            );
            args.push(url.clone());
            total.add(self.run(server, &args, each, &format!("grpc-{k}"))?);
            ids.push(id);
        }
        let ids = format!("{runs} runs, one id each: {}", ids.join(", "));
        Ok(total.into_measurement(
            format!("gRPC, {}", self.describe()),
            ids,
            each * runs as u32,
        ))
    }

    /// LookupColony as Connect GET requests with the JSON message in the
    /// URL, so one run asks for every registered id in turn.
    pub fn connect_get(
        &self,
        server: &ServerProcess,
        colonies: usize,
        seconds: f64,
    ) -> Result<Measurement> {
        let uris = self.dir.join("lookup-uris.txt");
        let mut list = String::new();
        for index in shuffled(colonies) {
            let message = format!("{{\"meshId\":\"{}\"}}", mesh_id(index));
            list.push_str(&format!(
                "http://{}{LOOKUP_PATH}?connect=v1&encoding=json&message={}\n",
                server.addr,
                percent_encode(&message)
            ));
        }
        std::fs::write(&uris, list).with_context(|| format!("cannot write {}", uris.display()))?;
        let args = vec!["-i".to_owned(), path_arg(&uris)];
        let duration = Duration::from_secs_f64(seconds);
        let run = self.run(server, &args, duration, "connect-get")?;
        Ok(run.into_measurement(
            format!("Connect-JSON GET, {}", self.describe()),
            format!("all {colonies} ids in a shuffled cycle"),
            duration,
        ))
    }

    /// One h2load run of `duration` after the warm-up; fails unless every
    /// request got a 200 over HTTP/2.
    fn run(
        &self,
        server: &ServerProcess,
        request: &[String],
        duration: Duration,
        name: &str,
    ) -> Result<Run> {
        let log = self.dir.join(format!("{name}.log"));
        // h2load appends to an existing log.
        let _ = std::fs::remove_file(&log);
        let mut command = Command::new(&self.binary);
        command
            .args(["-t", "1"])
            .args(["-c", &self.connections.max(1).to_string()])
            .args(["-m", &self.streams.max(1).to_string()])
            .args(["-D", &format!("{}ms", duration.as_millis().max(1))])
            .args(["--warm-up-time", &format!("{}ms", WARM_UP.as_millis())])
            .arg(format!("--log-file={}", path_arg(&log)))
            .args(request)
            .stdin(Stdio::null());
        let server_before = server.cpu_seconds();
        let client_before = children_cpu_seconds();
        let started = Instant::now();
        let output = command
            .output()
            .with_context(|| format!("cannot run {}", self.binary.display()))?;
        let wall = started.elapsed();
        let client_after = children_cpu_seconds();
        let server_after = server.cpu_seconds();
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "h2load failed ({}): {}{}",
                output.status,
                stdout.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        // Without prior knowledge of h2c, h2load would fall back to HTTP/1.1.
        if !stdout.contains("Application protocol: h2c") {
            bail!("h2load did not speak cleartext HTTP/2:\n{}", stdout.trim());
        }
        let text = std::fs::read_to_string(&log)
            .with_context(|| format!("h2load wrote no log at {}", log.display()))?;
        let log = parse_log(&text);
        let (latencies_us, failed) = (log.latencies_us, log.failed);
        // Streams still in flight when h2load stops are logged without a
        // status; there can be at most one per stream slot.
        let in_flight = self.connections.max(1) * self.streams.max(1);
        if !failed.is_empty() || log.cut_at_stop > in_flight || latencies_us.is_empty() {
            bail!(
                "{} of {} lookups did not get HTTP 200 and {} had no answer when h2load stopped (log lines: {:?}):\n{}",
                failed.len(),
                latencies_us.len() + failed.len(),
                log.cut_at_stop,
                &failed[..failed.len().min(5)],
                stdout.trim()
            );
        }
        let delta = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
        Ok(Run {
            latencies_us,
            client_cpu: delta(client_before, client_after),
            server_cpu: delta(server_before, server_after),
            wall,
        })
    }
}

impl Run {
    fn empty() -> Self {
        Run {
            latencies_us: Vec::new(),
            client_cpu: Some(0.0),
            server_cpu: Some(0.0),
            wall: Duration::ZERO,
        }
    }

    fn add(&mut self, other: Run) {
        let sum = |a: Option<f64>, b: Option<f64>| Some(a? + b?);
        self.latencies_us.extend(other.latencies_us);
        self.client_cpu = sum(self.client_cpu, other.client_cpu);
        self.server_cpu = sum(self.server_cpu, other.server_cpu);
        self.wall += other.wall;
    }

    fn into_measurement(self, label: String, ids: String, measured: Duration) -> Measurement {
        let mut measurement =
            Measurement::new(label, ids, measured.as_secs_f64(), self.latencies_us);
        measurement.client_cpu = self.client_cpu;
        measurement.server_cpu = self.server_cpu;
        measurement.cpu_wall = self.wall.as_secs_f64();
        measurement
    }
}

/// An h2load log. Lines are `start_us \t status \t duration_us`; status
/// -1 is a failed stream, 0 one that had no response yet when h2load
/// stopped.
struct Log<'a> {
    /// Latencies (µs) of the requests answered with 200.
    latencies_us: Vec<u32>,
    /// Lines of requests that got another status or failed.
    failed: Vec<&'a str>,
    cut_at_stop: usize,
}

fn parse_log(text: &str) -> Log<'_> {
    let mut log = Log {
        latencies_us: Vec::new(),
        failed: Vec::new(),
        cut_at_stop: 0,
    };
    for line in text.lines() {
        let mut columns = line.split('\t').skip(1);
        let status = columns.next();
        let duration = columns.next().and_then(|d| d.trim().parse::<u64>().ok());
        match (status, duration) {
            (Some("200"), Some(us)) => log.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX)),
            (Some("0"), Some(_)) => log.cut_at_stop += 1,
            _ => log.failed.push(line),
        }
    }
    log
}

/// A LookupColony request as one gRPC length-prefixed, uncompressed message.
fn grpc_frame(mesh_id: &str) -> Vec<u8> {
    let message = LookupColonyRequest {
        mesh_id: mesh_id.to_owned(),
    }
    .encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    frame
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `0..count` in a fixed pseudo-random order, so consecutive lookups are
/// for unrelated ids.
fn shuffled(count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for i in (1..order.len()).rev() {
        // xorshift: a cheap, reproducible shuffle without a dependency.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// CPU seconds of this process's waited-for children (/proc/self/stat
/// cutime + cstime): what an h2load run used, read before and after it.
fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let cutime: f64 = fields.get(13)?.parse().ok()?;
    let cstime: f64 = fields.get(14)?.parse().ok()?;
    Some((cutime + cstime) / 100.0)
}
