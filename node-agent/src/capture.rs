//! Loads the sock_ops program, attaches it at the cgroup v2 root and owns it:
//! dropping a [`FlowCapture`] detaches the program and frees its maps.

use std::collections::HashSet;
use std::fs::File;
use std::net::IpAddr;
use std::time::Duration;

use aya::maps::{Array, HashMap, MapData, PerCpuArray, PerCpuHashMap};
use aya::programs::{CgroupAttachMode, SockOps};
use aya::{Ebpf, EbpfLoader};
use coral_node_agent_common::{
    CONNECTING_MAP, CONNECTING_MAP_ENTRIES, EMPTY_PROGRAM_NAME, EPOCH_MAP, FLOW_MAP,
    FLOW_MAP_DEFAULT_ENTRIES, FlowCounters, FlowKey, OBSERVED_CLIENTS_MAP,
    OBSERVED_CLIENTS_MAP_ENTRIES, PROCESS_NETNS_GLOBAL, PROGRAM_NAME, STATS_MAP,
};

use crate::error::CaptureError;
use crate::prerequisites;

/// The object aya-build produced (empty when built with AYA_BUILD_SKIP=1).
static EBPF_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/coral-node-agent-ebpf"));

#[derive(Clone, Debug)]
pub struct CaptureOptions {
    /// Flow map capacity across both epochs; updates beyond it are counted
    /// as dropped, never silently lost.
    pub flow_map_entries: u32,
    /// How long a drain waits after flipping the epoch before reading the old
    /// half, so program runs that read the old epoch have finished.
    pub epoch_settle: Duration,
    /// Host mode: key the outbound flows of this network namespace (its
    /// [`crate::netns_cookie`]; the agent's own) by the connecting process
    /// too (see `FlowKey::pid`), so processes sharing an address are told
    /// apart. It costs map updates per connect there; in-cluster, and in
    /// other namespaces, addresses suffice.
    pub process_netns: Option<u64>,
}

impl Default for CaptureOptions {
    fn default() -> Self {
        Self {
            flow_map_entries: FLOW_MAP_DEFAULT_ENTRIES,
            epoch_settle: Duration::from_millis(5),
            process_netns: None,
        }
    }
}

/// Loads the object and attaches `program` at the cgroup v2 root.
fn load_and_attach(
    program: &'static str,
    flow_map_entries: u32,
    process_netns: Option<u64>,
) -> Result<Ebpf, CaptureError> {
    let found = prerequisites::check()?;
    if EBPF_OBJECT.is_empty() {
        return Err(CaptureError::NoEbpfObject);
    }
    let mut ebpf = EbpfLoader::new()
        .map_max_entries(FLOW_MAP, flow_map_entries)
        // Preallocated: only host mode, which keys processes, needs room.
        .map_max_entries(
            CONNECTING_MAP,
            if process_netns.is_some() {
                CONNECTING_MAP_ENTRIES
            } else {
                1
            },
        )
        .override_global(PROCESS_NETNS_GLOBAL, &process_netns.unwrap_or(0), true)
        .load(EBPF_OBJECT)?;
    let sock_ops: &mut SockOps = ebpf
        .program_mut(program)
        .ok_or(CaptureError::Missing {
            kind: "program",
            name: program,
        })?
        .try_into()?;
    sock_ops.load()?;
    let cgroup = File::open(&found.cgroup_v2_root).map_err(|source| CaptureError::Cgroup {
        path: found.cgroup_v2_root.clone(),
        source,
    })?;
    // Must not block other tools' sock_ops programs. On the kernels we
    // support (≥ 5.15: sock_ops got bpf_get_netns_cookie there) aya attaches
    // through bpf_link, which the kernel always attaches in allow-multiple
    // mode and which rejects explicit flags, so the mode passed is "no flags".
    sock_ops.attach(&cgroup, CgroupAttachMode::Single)?;
    Ok(ebpf)
}

/// An attached sock_ops program that does nothing: the overhead floor the
/// benchmark compares the flow program against. Detaches on drop.
pub struct EmptyHook {
    _ebpf: Ebpf,
}

impl EmptyHook {
    pub fn start() -> Result<Self, CaptureError> {
        Ok(Self {
            _ebpf: load_and_attach(EMPTY_PROGRAM_NAME, 1, None)?,
        })
    }
}

/// A loaded and attached flow program with its maps.
pub struct FlowCapture {
    pub(crate) flows: PerCpuHashMap<MapData, FlowKey, FlowCounters>,
    pub(crate) epoch_map: Array<MapData, u32>,
    pub(crate) stats: PerCpuArray<MapData, u64>,
    observed_clients: HashMap<MapData, [u8; 16], u8>,
    /// What `observed_clients` holds, so updates write only the difference.
    observed_now: HashSet<[u8; 16]>,
    /// The epoch the kernel currently writes into.
    pub(crate) epoch: u32,
    pub(crate) options: CaptureOptions,
    // Owns the program and its link; dropped last so the maps stay valid
    // while the program runs.
    _ebpf: Ebpf,
}

impl FlowCapture {
    /// Checks the prerequisites, loads and attaches the program.
    pub fn start(options: CaptureOptions) -> Result<Self, CaptureError> {
        let mut ebpf = load_and_attach(
            PROGRAM_NAME,
            options.flow_map_entries,
            options.process_netns,
        )?;
        tracing::info!(
            flow_map_entries = options.flow_map_entries,
            process_netns = ?options.process_netns,
            "sock_ops flow program attached"
        );

        let take = |ebpf: &mut Ebpf, name: &'static str| {
            ebpf.take_map(name)
                .ok_or(CaptureError::Missing { kind: "map", name })
        };
        let flows = PerCpuHashMap::try_from(take(&mut ebpf, FLOW_MAP)?)?;
        let epoch_map = Array::try_from(take(&mut ebpf, EPOCH_MAP)?)?;
        let stats = PerCpuArray::try_from(take(&mut ebpf, STATS_MAP)?)?;
        let observed_clients = HashMap::try_from(take(&mut ebpf, OBSERVED_CLIENTS_MAP)?)?;
        Ok(Self {
            flows,
            epoch_map,
            stats,
            observed_clients,
            observed_now: HashSet::new(),
            epoch: 0,
            options,
            _ebpf: ebpf,
        })
    }
}

impl FlowCapture {
    /// Tells the program which client addresses an agent reports on the
    /// connecting side (`Attribute::client_is_observed`), so it does not
    /// count their accepted connections at all: user space would leave
    /// those inbound flows to the client anyway. Addresses beyond the map's
    /// capacity are left out, which only means they are counted and then
    /// dropped as before.
    pub fn set_observed_clients(
        &mut self,
        clients: impl IntoIterator<Item = IpAddr>,
    ) -> Result<(), CaptureError> {
        let wanted: HashSet<[u8; 16]> = clients
            .into_iter()
            .map(|addr| match addr {
                IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                IpAddr::V6(v6) => v6.octets(),
            })
            .take(OBSERVED_CLIENTS_MAP_ENTRIES as usize)
            .collect();
        let gone: Vec<[u8; 16]> = self.observed_now.difference(&wanted).copied().collect();
        let new: Vec<[u8; 16]> = wanted.difference(&self.observed_now).copied().collect();
        // Removals first, so the map never needs more room than either set;
        // `observed_now` follows each write, so a failed one is retried.
        for addr in gone {
            self.observed_clients.remove(&addr)?;
            self.observed_now.remove(&addr);
        }
        for addr in new {
            self.observed_clients.insert(addr, 0, 0)?;
            self.observed_now.insert(addr);
        }
        Ok(())
    }
}
