//! Two network namespaces joined by a veth pair, deleted again on drop (also
//! when a test fails), and a way to run code inside one of them.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;

use anyhow::Result;
use coral_e2e::ip;

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Runs `f` on a new thread that has joined this namespace (network
    /// namespaces can be entered per thread).
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> JoinHandle<Result<T>> {
        coral_e2e::spawn_in_netns(&self.name, f)
    }

    /// The namespace's cookie, as the eBPF program sees it.
    pub fn cookie(&self) -> Result<u64> {
        self.spawn(|| Ok(coral_node_agent::netns_cookie::current()?))
            .join()
            .expect("cookie thread panicked")
    }
}

/// A client and a server namespace on one /24 (or /64) link.
pub struct NetnsPair {
    pub client: Netns,
    pub server: Netns,
    pub client_addr: IpAddr,
    pub server_addr: IpAddr,
}

impl NetnsPair {
    pub fn create(ipv6: bool) -> Result<Self> {
        let (client_addr, server_addr, prefix): (IpAddr, IpAddr, u8) = if ipv6 {
            ("fd00:c0a1::1".parse()?, "fd00:c0a1::2".parse()?, 64)
        } else {
            ("10.77.0.1".parse()?, "10.77.0.2".parse()?, 24)
        };
        Self::create_with(client_addr, server_addr, prefix)
    }

    /// A pair on addresses of the caller's choosing (tests that identify
    /// flows by address rather than by namespace cookie use their own).
    pub fn create_with(client_addr: IpAddr, server_addr: IpAddr, prefix: u8) -> Result<Self> {
        let ipv6 = client_addr.is_ipv6();
        let id = format!(
            "{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        );
        // The guard exists before the first namespace so any failure below
        // still deletes whatever was made.
        let pair = Self {
            client: Netns {
                name: format!("coral-test-{id}-c"),
            },
            server: Netns {
                name: format!("coral-test-{id}-s"),
            },
            client_addr,
            server_addr,
        };
        let (c, s) = (&pair.client.name, &pair.server.name);
        ip(&["netns", "add", c])?;
        ip(&["netns", "add", s])?;
        ip(&[
            "link", "add", "veth-c", "netns", c, "type", "veth", "peer", "name", "veth-s", "netns",
            s,
        ])?;
        for (ns, dev, addr) in [(c, "veth-c", client_addr), (s, "veth-s", server_addr)] {
            let cidr = format!("{addr}/{prefix}");
            let mut args = vec!["-n", ns, "addr", "add", &cidr, "dev", dev];
            if ipv6 {
                // No duplicate address detection: usable at once.
                args.push("nodad");
            }
            ip(&args)?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(pair)
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        // Deleting a namespace also deletes its end of the veth pair.
        for ns in [&self.client.name, &self.server.name] {
            coral_e2e::delete_netns(ns);
        }
    }
}
