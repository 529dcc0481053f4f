//! One measured lookup load: its rate, latency percentiles and the CPU the
//! server and the load generator spent on it, printed beside the targets.

/// The lookup rate and p99 latency discovery is expected to sustain on a
/// 2-core machine; the bench prints its figures beside them.
pub const TARGET_LOOKUPS_PER_SECOND: f64 = 50_000.0;
pub const TARGET_P99_MS: f64 = 2.0;

pub struct Measurement {
    /// What generated the load, e.g. "gRPC, h2load -t 1 -c 4 -m 8".
    pub label: String,
    /// Which ids were looked up.
    pub ids: String,
    /// Measured seconds (warm-up excluded).
    pub seconds: f64,
    /// Per-lookup latencies in µs, sorted.
    pub latencies_us: Vec<u32>,
    /// CPU seconds used by the server and by the load generator over
    /// `cpu_wall` seconds of wall time (warm-up included for both).
    pub server_cpu: Option<f64>,
    pub client_cpu: Option<f64>,
    pub cpu_wall: f64,
}

impl Measurement {
    pub fn new(label: String, ids: String, seconds: f64, mut latencies_us: Vec<u32>) -> Self {
        latencies_us.sort_unstable();
        Measurement {
            label,
            ids,
            seconds,
            latencies_us,
            server_cpu: None,
            client_cpu: None,
            cpu_wall: 0.0,
        }
    }

    pub fn lookups_per_second(&self) -> f64 {
        self.latencies_us.len() as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }

    /// The `p` quantile (0..=1) in milliseconds, nearest rank.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let sorted = &self.latencies_us;
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
        f64::from(sorted[rank - 1]) / 1000.0
    }

    pub fn meets_targets(&self) -> bool {
        self.lookups_per_second() >= TARGET_LOOKUPS_PER_SECOND
            && self.percentile_ms(0.99) < TARGET_P99_MS
    }

    pub fn print(&self) {
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let rate = self.lookups_per_second();
        let p99 = self.percentile_ms(0.99);
        println!("  lookups ({}; {})", self.label, self.ids);
        println!(
            "    lookups/s  {rate:>9.0}   target >= {TARGET_LOOKUPS_PER_SECOND:.0}: {}   ({} lookups in {:.1} s)",
            verdict(rate >= TARGET_LOOKUPS_PER_SECOND),
            self.latencies_us.len(),
            self.seconds,
        );
        println!("    p50        {:>9.3} ms", self.percentile_ms(0.50));
        println!(
            "    p99        {p99:>9.3} ms   target < {TARGET_P99_MS} ms: {}",
            verdict(p99 < TARGET_P99_MS)
        );
        println!(
            "    p99.9      {:>9.3} ms, max {:.3} ms",
            self.percentile_ms(0.999),
            self.percentile_ms(1.0)
        );
        let share = |cpu: Option<f64>| {
            cpu.map_or("?".to_owned(), |cpu| {
                format!("{:.0}%", 100.0 * cpu / self.cpu_wall.max(f64::MIN_POSITIVE))
            })
        };
        let per_lookup = |cpu: Option<f64>| {
            let served = self.latencies_us.len().max(1) as f64;
            // CPU covers the warm-up too: scale the count to the same span.
            cpu.map_or("?".to_owned(), |cpu| {
                format!(
                    "{:.1} µs",
                    1e6 * cpu / (served * self.cpu_wall / self.seconds)
                )
            })
        };
        println!(
            "    CPU        server {} of a core ({} per lookup), load generator {} of a core ({} per lookup)",
            share(self.server_cpu),
            per_lookup(self.server_cpu),
            share(self.client_cpu),
            per_lookup(self.client_cpu),
        );
    }
}
