//! Map names, keys and values shared by the node-agent's eBPF program and its
//! user space. Everything here is `#[repr(C)]` with explicit padding so the
//! kernel and user space hash exactly the same key bytes.
#![no_std]

/// Per-CPU hash of [`FlowKey`] → [`FlowCounters`].
pub const FLOW_MAP: &str = "CORAL_FLOWS";
/// One-entry array holding the epoch the kernel writes into (0 or 1).
pub const EPOCH_MAP: &str = "CORAL_EPOCH";
/// Per-CPU array of [`Stat`] counters (cumulative, never reset).
pub const STATS_MAP: &str = "CORAL_STATS";
/// LRU hash of socket cookie → tgid of the process that called `connect()`,
/// kept from the connect callback (in the caller's context) to the
/// callbacks that build the flow key (often in softirq context). Host mode only.
pub const CONNECTING_MAP: &str = "CORAL_CONNECTING";
/// Host mode; Kubernetes mode shrinks the map to one entry.
pub const CONNECTING_MAP_ENTRIES: u32 = 16_384;
/// Hash of client addresses (as in [`FlowKey`]) whose connections an agent
/// reports from the connecting side (pod IPs, host-mode workloads,
/// loopback), kept by user space. Accepted connections from them are not
/// counted: user space would drop their inbound flows anyway ("left to the
/// client"), and skipping them spares the kernel their state callbacks.
pub const OBSERVED_CLIENTS_MAP: &str = "CORAL_OBSERVED_CLIENTS";
/// Beyond this many, the rest are counted inbound and dropped in user space
/// as before: exact either way.
pub const OBSERVED_CLIENTS_MAP_ENTRIES: u32 = 65_536;
/// A `u64` global in the program's read-only data: the cookie of the network
/// namespace whose outbound sockets are keyed by process (host mode: the
/// agent's own), 0 for none. The verifier skips the process code entirely
/// when it is 0.
pub const PROCESS_NETNS_GLOBAL: &str = "CORAL_PROCESS_NETNS";
/// The sock_ops program's name in the object.
pub const PROGRAM_NAME: &str = "coral_flows";
/// An empty sock_ops program on the same hook: the overhead benchmark's floor.
pub const EMPTY_PROGRAM_NAME: &str = "coral_empty";

/// Default capacity of the flow map (both epochs together). User space may
/// change it before load.
pub const FLOW_MAP_DEFAULT_ENTRIES: u32 = 32_768;

/// The kernel opened the connection (`connect`).
pub const DIRECTION_OUTBOUND: u8 = 0;
/// The kernel accepted the connection on a listening socket.
pub const DIRECTION_INBOUND: u8 = 1;

/// Indexes into [`STATS_MAP`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stat {
    /// An update found the flow map full; its counts are lost (and counted here).
    FlowMapFull = 0,
}

/// Number of entries in [`STATS_MAP`].
pub const STATS_LEN: u32 = 1;

/// One aggregated flow in one epoch.
///
/// The port is the server side's port: the remote port for outbound flows,
/// the local (service) port for inbound ones, so a busy client's ephemeral
/// ports do not create one flow per connection.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// `bpf_get_netns_cookie` of the socket's network namespace.
    pub netns_cookie: u64,
    /// IPv6, or IPv4-mapped IPv6 (`::ffff:a.b.c.d`), network byte order.
    pub local_addr: [u8; 16],
    pub remote_addr: [u8; 16],
    /// Server-side port, host byte order.
    pub port: u16,
    /// [`DIRECTION_OUTBOUND`] or [`DIRECTION_INBOUND`].
    pub direction: u8,
    /// 0 or 1: which half of the map this entry belongs to.
    pub epoch: u8,
    /// Host mode, outbound flows: the process (tgid) that called
    /// `connect()`, so two processes on one address (loopback) are told
    /// apart. 0 otherwise, and for connects made before the program ran.
    pub pid: u32,
}

/// Counters of one flow. The kernel only ever adds to them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCounters {
    /// Connections that reached ESTABLISHED.
    pub opened: u64,
    /// Established connections that reached CLOSE (including resets).
    pub closed: u64,
    /// Outbound connects that went SYN_SENT → CLOSE (refused or timed out).
    pub failed: u64,
    /// Abortive closes: ESTABLISHED or CLOSE_WAIT → CLOSE (RST sent or received).
    pub resets: u64,
    /// `bytes_acked` at close (payload plus one each for SYN and FIN).
    pub bytes_sent: u64,
    /// `bytes_received` at close.
    pub bytes_received: u64,
    /// Sum of the smoothed RTT (µs) of closed connections that had one.
    pub srtt_sum_us: u64,
    /// How many connections contributed to `srtt_sum_us`.
    pub srtt_samples: u64,
}

impl FlowCounters {
    pub const ZERO: Self = Self {
        opened: 0,
        closed: 0,
        failed: 0,
        resets: 0,
        bytes_sent: 0,
        bytes_received: 0,
        srtt_sum_us: 0,
        srtt_samples: 0,
    };

    /// Field-wise sum (user space folds the per-CPU values with it).
    pub fn add(&mut self, other: &Self) {
        self.opened += other.opened;
        self.closed += other.closed;
        self.failed += other.failed;
        self.resets += other.resets;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.srtt_sum_us += other.srtt_sum_us;
        self.srtt_samples += other.srtt_samples;
    }
}

// SAFETY: plain `repr(C)` integers with explicit padding; any bit pattern is valid.
#[cfg(feature = "user")]
unsafe impl aya::Pod for FlowKey {}
// SAFETY: as above.
#[cfg(feature = "user")]
unsafe impl aya::Pod for FlowCounters {}

const _: () = assert!(core::mem::size_of::<FlowKey>() == 48);
const _: () = assert!(core::mem::size_of::<FlowCounters>() == 64);
