//! The maps and the (atomic) updates the program makes to them.
//!
//! Values are per-CPU, but a program running in process context can be
//! interrupted by a softirq that runs the program again on the same CPU and
//! touches the same flow, so additions are atomic to stay exact.

use aya_ebpf::{
    bindings::BPF_NOEXIST,
    macros::map,
    maps::{Array, HashMap, LruHashMap, PerCpuArray, PerCpuHashMap},
};
use coral_node_agent_common::{
    CONNECTING_MAP_ENTRIES, FLOW_MAP_DEFAULT_ENTRIES, FlowCounters, FlowKey,
    OBSERVED_CLIENTS_MAP_ENTRIES, STATS_LEN, Stat,
};

#[map(name = "CORAL_FLOWS")]
static FLOWS: PerCpuHashMap<FlowKey, FlowCounters> =
    PerCpuHashMap::with_max_entries(FLOW_MAP_DEFAULT_ENTRIES, 0);

/// Host mode: socket cookie → tgid of the connecting process, from the
/// connect to the close (where its entry goes). LRU, so sockets whose close
/// is never seen cannot fill it. (A plain preallocated hash measured within
/// noise of it: the helpers, not the LRU upkeep, are the cost.)
#[map(name = "CORAL_CONNECTING")]
static CONNECTING: LruHashMap<u64, u32> = LruHashMap::with_max_entries(CONNECTING_MAP_ENTRIES, 0);

/// Client addresses whose connections the connecting side reports (see
/// `OBSERVED_CLIENTS_MAP`); the value is unused.
#[map(name = "CORAL_OBSERVED_CLIENTS")]
static OBSERVED_CLIENTS: HashMap<[u8; 16], u8> =
    HashMap::with_max_entries(OBSERVED_CLIENTS_MAP_ENTRIES, 0);

#[map(name = "CORAL_EPOCH")]
static EPOCH: Array<u32> = Array::with_max_entries(1, 0);

#[map(name = "CORAL_STATS")]
static STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(STATS_LEN, 0);

/// Whether an agent reports connections from `addr` on the connecting side.
#[inline(always)]
pub fn client_is_observed(addr: &[u8; 16]) -> bool {
    OBSERVED_CLIENTS.get_ptr(addr).is_some()
}

/// Keeps the connecting process of a socket.
#[inline(always)]
pub fn remember_process(socket_cookie: u64, tgid: u32) {
    let _ = CONNECTING.insert(socket_cookie, tgid, 0);
}

/// The connecting process of a socket, 0 when not kept.
#[inline(always)]
pub fn process_of(socket_cookie: u64) -> u32 {
    // SAFETY: the value is a plain u32 copied out at once.
    unsafe { CONNECTING.get(socket_cookie) }.map_or(0, |pid| *pid)
}

#[inline(always)]
pub fn forget_process(socket_cookie: u64) {
    let _ = CONNECTING.remove(socket_cookie);
}

/// What a closed connection adds to its flow.
pub struct Closed {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub srtt_us: u64,
    pub reset: bool,
}

#[inline(always)]
pub fn current_epoch() -> u8 {
    match EPOCH.get(0) {
        Some(epoch) => (*epoch & 1) as u8,
        None => 0,
    }
}

#[inline(always)]
pub fn count_opened(key: &FlowKey) {
    if let Some(c) = counters(key) {
        // SAFETY: `c` points into a live map value (see `counters`).
        unsafe { atomic_add(&raw mut (*c).opened, 1) };
    }
}

#[inline(always)]
pub fn count_failed(key: &FlowKey) {
    if let Some(c) = counters(key) {
        // SAFETY: as above.
        unsafe { atomic_add(&raw mut (*c).failed, 1) };
    }
}

#[inline(always)]
pub fn count_closed(key: &FlowKey, closed: &Closed) {
    let Some(c) = counters(key) else {
        return;
    };
    // SAFETY: as above.
    unsafe {
        atomic_add(&raw mut (*c).closed, 1);
        atomic_add(&raw mut (*c).bytes_sent, closed.bytes_sent);
        atomic_add(&raw mut (*c).bytes_received, closed.bytes_received);
        if closed.srtt_us != 0 {
            atomic_add(&raw mut (*c).srtt_sum_us, closed.srtt_us);
            atomic_add(&raw mut (*c).srtt_samples, 1);
        }
        if closed.reset {
            atomic_add(&raw mut (*c).resets, 1);
        }
    }
}

/// This CPU's counters of `key`, created zeroed on first use; `None` (and
/// counted) when the map is full.
#[inline(always)]
fn counters(key: &FlowKey) -> Option<*mut FlowCounters> {
    if let Some(c) = FLOWS.get_ptr_mut(key) {
        return Some(c);
    }
    // A nested run on this CPU may insert between the lookup and here:
    // NOEXIST leaves its entry alone and the second lookup finds it.
    let _ = FLOWS.insert(key, FlowCounters::ZERO, BPF_NOEXIST.into());
    match FLOWS.get_ptr_mut(key) {
        Some(c) => Some(c),
        None => {
            if let Some(full) = STATS.get_ptr_mut(Stat::FlowMapFull as u32) {
                // SAFETY: points into the live per-CPU array value.
                unsafe { atomic_add(full, 1) };
            }
            None
        }
    }
}

/// `lock *dst += value` (BPF_ATOMIC | BPF_ADD). The bpf target has no
/// `AtomicU64`, so this uses the intrinsic the atomic types are built on.
#[cfg(target_arch = "bpf")]
#[inline(always)]
unsafe fn atomic_add(dst: *mut u64, value: u64) {
    use core::intrinsics::{AtomicOrdering, atomic_xadd};
    // SAFETY: the caller passes a valid, aligned pointer into a map value.
    unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(dst, value) };
}

#[cfg(not(target_arch = "bpf"))]
#[inline(always)]
unsafe fn atomic_add(dst: *mut u64, value: u64) {
    // SAFETY: as above; host builds only type-check the program.
    unsafe { core::sync::atomic::AtomicU64::from_ptr(dst) }
        .fetch_add(value, core::sync::atomic::Ordering::Relaxed);
}
