//! Builds the aggregation key of a socket from the sock_ops context.

use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_netns_cookie, bpf_get_socket_cookie},
    programs::SockOpsContext,
};
use coral_node_agent_common::{DIRECTION_INBOUND, DIRECTION_OUTBOUND, FlowKey};

use crate::flow_maps;

/// One 4-byte load straight from the context at the field's offset. The
/// verifier rejects context loads through a computed pointer or narrower
/// than the field, which plain reads can turn into after optimisation.
macro_rules! ctx_u32 {
    ($ops:expr, $($field:tt)+) => {{
        let ops: *const aya_ebpf::bindings::bpf_sock_ops = $ops;
        // SAFETY: the context pointer is valid for the whole program run.
        unsafe { core::ptr::read_volatile(&raw const (*ops).$($field)+) }
    }};
}
pub(crate) use ctx_u32;

const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;

/// `None` for families other than IPv4/IPv6.
#[inline(always)]
pub fn from_context(ctx: &SockOpsContext, direction: u8) -> Option<FlowKey> {
    ends(ctx).map(|ends| key(ctx, &ends, direction))
}

/// A socket's two ends, read from the context alone (no helper calls).
pub struct Ends {
    /// As in [`FlowKey`]: IPv6 or IPv4-mapped, network byte order.
    pub local_addr: [u8; 16],
    pub remote_addr: [u8; 16],
    pub local_port: u16,
    pub remote_port: u16,
}

/// `None` for families other than IPv4/IPv6.
#[inline(always)]
pub fn ends(ctx: &SockOpsContext) -> Option<Ends> {
    let ops = ctx.ops;
    // Every field is loaded unconditionally: loads chosen by a branch get
    // merged by LLVM into one load through a computed pointer, which the
    // verifier rejects ("dereference of modified ctx ptr").
    let family = ctx_u32!(ops, family);
    let local4 = ctx_u32!(ops, local_ip4);
    let remote4 = ctx_u32!(ops, remote_ip4);
    let local6 = [
        ctx_u32!(ops, local_ip6[0]),
        ctx_u32!(ops, local_ip6[1]),
        ctx_u32!(ops, local_ip6[2]),
        ctx_u32!(ops, local_ip6[3]),
    ];
    let remote6 = [
        ctx_u32!(ops, remote_ip6[0]),
        ctx_u32!(ops, remote_ip6[1]),
        ctx_u32!(ops, remote_ip6[2]),
        ctx_u32!(ops, remote_ip6[3]),
    ];
    // Local port: host byte order. Remote port: network byte order in the
    // upper half of the u32 on little endian.
    let local_port = ctx_u32!(ops, local_port) as u16;
    let remote_port = u32::from_be(ctx_u32!(ops, remote_port)) as u16;

    let (local_addr, remote_addr) = match family {
        AF_INET => (v4_mapped(local4), v4_mapped(remote4)),
        AF_INET6 => (v6_bytes(local6), v6_bytes(remote6)),
        _ => return None,
    };
    Some(Ends {
        local_addr,
        remote_addr,
        local_port,
        remote_port,
    })
}

/// The aggregation key of a socket with these `ends`.
#[inline(always)]
pub fn key(ctx: &SockOpsContext, ends: &Ends, direction: u8) -> FlowKey {
    let port = if direction == DIRECTION_INBOUND {
        ends.local_port
    } else {
        ends.remote_port
    };
    let netns_cookie = netns_cookie(ctx);
    let pid = if direction == DIRECTION_OUTBOUND && crate::keys_processes_of(netns_cookie) {
        flow_maps::process_of(socket_cookie(ctx))
    } else {
        0
    };
    FlowKey {
        netns_cookie,
        local_addr: ends.local_addr,
        remote_addr: ends.remote_addr,
        port,
        direction,
        epoch: flow_maps::current_epoch(),
        pid,
    }
}

/// The cookie of the socket's network namespace.
#[inline(always)]
pub fn netns_cookie(ctx: &SockOpsContext) -> u64 {
    // SAFETY: sock_ops programs may call bpf_get_netns_cookie with their context.
    unsafe { bpf_get_netns_cookie(ctx.as_ptr()) }
}

/// The socket's cookie: a stable id for the socket's whole life.
#[inline(always)]
pub fn socket_cookie(ctx: &SockOpsContext) -> u64 {
    // SAFETY: sock_ops programs may call bpf_get_socket_cookie with their context.
    unsafe { bpf_get_socket_cookie(ctx.as_ptr()) }
}

/// `::ffff:a.b.c.d`; the u32 holds the address in network byte order.
#[inline(always)]
fn v4_mapped(addr: u32) -> [u8; 16] {
    let b = addr.to_ne_bytes();
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, b[0], b[1], b[2], b[3],
    ]
}

#[inline(always)]
fn v6_bytes(words: [u32; 4]) -> [u8; 16] {
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 4 {
        let b = words[i].to_ne_bytes();
        out[i * 4] = b[0];
        out[i * 4 + 1] = b[1];
        out[i * 4 + 2] = b[2];
        out[i * 4 + 3] = b[3];
        i += 1;
    }
    out
}
