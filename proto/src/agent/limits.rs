//! Limits of the agent → colony contract (`coral.agent.v1`), in one place
//! for both sides: the colony refuses what exceeds them with
//! `invalid_argument`, and agents keep within them.

/// Most flows the colony accepts in one `FlowBatch`.
pub const MAX_FLOWS_PER_BATCH: usize = 20_000;

/// Most flows an agent puts in one batch; a larger drain is split. Half of
/// [`MAX_FLOWS_PER_BATCH`], so an agent's batch is never near a refusal.
pub const AGENT_FLOWS_PER_BATCH: usize = MAX_FLOWS_PER_BATCH / 2;

/// Longest text field the colony accepts (agent id, node name, endpoint
/// names, kinds), in bytes: Kubernetes names are at most 253 characters.
pub const MAX_NAME_LEN: usize = 253;

/// Most components one heartbeat may register.
pub const MAX_LOCAL_COMPONENTS: usize = 256;

/// Entries of `L7Stats.latency_buckets` at most (log-2 buckets of
/// microseconds, see agent.proto). Not checked yet: no agent sends them.
pub const L7_LATENCY_BUCKETS: usize = 32;
