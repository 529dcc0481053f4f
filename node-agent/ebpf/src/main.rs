//! Kernel side of the node-agent: one cgroup `sock_ops` program, attached at
//! the cgroup v2 root, that aggregates TCP connections per flow in a per-CPU
//! hash. Nothing goes to user space per event; user space drains the map.
//!
//! On the host (`cargo clippy --workspace`) this compiles to an empty binary so
//! the code is still type-checked and linted.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
#![cfg_attr(
    target_arch = "bpf",
    feature(core_intrinsics),
    allow(internal_features)
)]

mod flow_key;
mod flow_maps;

use aya_ebpf::{helpers::bpf_get_current_pid_tgid, macros::sock_ops, programs::SockOpsContext};
use coral_node_agent_common::{DIRECTION_INBOUND, DIRECTION_OUTBOUND};

// Kernel UAPI constants (include/uapi/linux/bpf.h, include/net/tcp_states.h).
const BPF_SOCK_OPS_TCP_CONNECT_CB: u32 = 3;
const BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB: u32 = 4;
const BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: u32 = 5;
const BPF_SOCK_OPS_STATE_CB: u32 = 10;
const BPF_SOCK_OPS_RTO_CB_FLAG: u32 = 1 << 0;
const BPF_SOCK_OPS_STATE_CB_FLAG: u32 = 1 << 2;
const TCP_ESTABLISHED: u32 = 1;
const TCP_SYN_SENT: u32 = 2;
const TCP_CLOSE: u32 = 7;
const TCP_CLOSE_WAIT: u32 = 8;

/// Marks inbound sockets. The RTO callback only fires on retransmission
/// timeouts (rare, and ignored here), which makes the bit a free per-socket
/// mark; socket storage would cost about 1.4 µs per connection.
const INBOUND_MARK: u32 = BPF_SOCK_OPS_RTO_CB_FLAG;

/// Host mode: the cookie of the network namespace whose connects are keyed
/// by process, the agent's own (where it can read processes' listening
/// ports); 0 otherwise. Set by user space at load; read-only, so the
/// verifier knows it and does not even look at the process code when it is 0.
#[unsafe(no_mangle)]
static CORAL_PROCESS_NETNS: u64 = 0;

/// Whether sockets of the namespace `netns_cookie` are keyed by process.
#[inline(always)]
fn keys_processes_of(netns_cookie: u64) -> bool {
    // SAFETY: a plain read of a global; volatile so it is not folded to 0.
    let wanted = unsafe { core::ptr::read_volatile(&raw const CORAL_PROCESS_NETNS) };
    wanted != 0 && wanted == netns_cookie
}

/// Whether any namespace is keyed by process (host mode).
#[inline(always)]
fn keys_processes() -> bool {
    // SAFETY: as above.
    unsafe { core::ptr::read_volatile(&raw const CORAL_PROCESS_NETNS) != 0 }
}

#[sock_ops]
pub fn coral_flows(ctx: SockOpsContext) -> u32 {
    match flow_key::ctx_u32!(ctx.ops, op) {
        // Before the SYN: ask for state callbacks so a failed connect is seen.
        BPF_SOCK_OPS_TCP_CONNECT_CB => {
            request_flags(&ctx, BPF_SOCK_OPS_STATE_CB_FLAG);
            if keys_processes() && keys_processes_of(flow_key::netns_cookie(&ctx)) {
                remember_connecting_process(&ctx);
            }
        }
        BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB => {
            // Connects made before the agent attached never ran TCP_CONNECT_CB.
            request_flags(&ctx, BPF_SOCK_OPS_STATE_CB_FLAG);
            if let Some(key) = flow_key::from_context(&ctx, DIRECTION_OUTBOUND) {
                flow_maps::count_opened(&key);
            }
        }
        BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB => {
            if let Some(ends) = flow_key::ends(&ctx) {
                // The client's agent counts this connection: no state
                // callbacks and no key for it here (the callbacks are half
                // the program's runs). The mark alone keeps a close, should
                // another program ask for callbacks, from passing as an
                // outbound one.
                if flow_maps::client_is_observed(&ends.remote_addr) {
                    request_flags(&ctx, INBOUND_MARK);
                    return 1;
                }
                request_flags(&ctx, BPF_SOCK_OPS_STATE_CB_FLAG | INBOUND_MARK);
                flow_maps::count_opened(&flow_key::key(&ctx, &ends, DIRECTION_INBOUND));
            }
        }
        BPF_SOCK_OPS_STATE_CB => {
            let (old_state, new_state) = (
                flow_key::ctx_u32!(ctx.ops, __bindgen_anon_1.args[0]),
                flow_key::ctx_u32!(ctx.ops, __bindgen_anon_1.args[1]),
            );
            if new_state == TCP_CLOSE {
                on_close(&ctx, old_state);
            }
        }
        _ => {}
    }
    1
}

/// This callback runs inside `connect()`, in the caller's context: the only
/// moment the process is known (bpf_get_current_pid_tgid in sock_ops
/// needs Linux 6.10).
fn remember_connecting_process(ctx: &SockOpsContext) {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    flow_maps::remember_process(flow_key::socket_cookie(ctx), tgid);
}

fn request_flags(ctx: &SockOpsContext, flags: u32) {
    let current = flow_key::ctx_u32!(ctx.ops, bpf_sock_ops_cb_flags);
    if current & flags != flags {
        // Keep flags another program may have set on this socket.
        let _ = ctx.set_cb_flags((current | flags) as i32);
    }
}

fn on_close(ctx: &SockOpsContext, old_state: u32) {
    let direction = if flow_key::ctx_u32!(ctx.ops, bpf_sock_ops_cb_flags) & INBOUND_MARK != 0 {
        DIRECTION_INBOUND
    } else {
        DIRECTION_OUTBOUND
    };
    let Some(key) = flow_key::from_context(ctx, direction) else {
        return;
    };
    if key.pid != 0 {
        // The socket is done: its process is no longer needed.
        flow_maps::forget_process(flow_key::socket_cookie(ctx));
    }
    if old_state == TCP_SYN_SENT {
        flow_maps::count_failed(&key);
        return;
    }
    // The verifier rewrites these loads; they read 0 for non-full sockets.
    let ops = ctx.ops;
    // SAFETY: the context pointer is valid for the whole program run.
    let (bytes_sent, bytes_received) = unsafe {
        (
            core::ptr::read_volatile(&raw const (*ops).bytes_acked),
            core::ptr::read_volatile(&raw const (*ops).bytes_received),
        )
    };
    flow_maps::count_closed(
        &key,
        &flow_maps::Closed {
            bytes_sent,
            bytes_received,
            // The kernel keeps srtt in 1/8 µs.
            srtt_us: u64::from(flow_key::ctx_u32!(ops, srtt_us) >> 3),
            reset: old_state == TCP_ESTABLISHED || old_state == TCP_CLOSE_WAIT,
        },
    );
}

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

// GPL: bpf_get_netns_cookie and friends are GPL-only helpers.
#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";

#[cfg(not(target_arch = "bpf"))]
fn main() {}

/// The benchmark's floor: the same hook, doing nothing.
#[sock_ops]
pub fn coral_empty(_ctx: SockOpsContext) -> u32 {
    1
}
