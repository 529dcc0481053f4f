//! A hub namespace and N spoke namespaces, spoke i joined to the hub by a
//! veth pair on 10.200.i.0/24 (hub .1, spoke .2). Everything is deleted on
//! drop, also when a test fails; only these namespaces' addresses are used.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Result;

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

pub struct Lab {
    pub hub: String,
    pub spokes: Vec<String>,
}

impl Lab {
    pub fn new(spokes: usize) -> Result<Self> {
        require_prerequisites();
        let id = format!(
            "{}-{}",
            std::process::id(),
            NEXT_ID.fetch_add(1, Ordering::Relaxed)
        );
        // The guard exists before the first namespace, so a failure below
        // still removes whatever was made.
        let lab = Self {
            hub: format!("coral-mesh-{id}-hub"),
            spokes: (1..=spokes)
                .map(|i| format!("coral-mesh-{id}-s{i}"))
                .collect(),
        };
        ip(&["netns", "add", &lab.hub])?;
        ip(&["-n", &lab.hub, "link", "set", "lo", "up"])?;
        for (i, spoke) in lab.spokes.iter().enumerate() {
            let i = i + 1;
            let hub_end = format!("veth{i}");
            ip(&["netns", "add", spoke])?;
            ip(&[
                "link", "add", &hub_end, "netns", &lab.hub, "type", "veth", "peer", "name",
                "veth0", "netns", spoke,
            ])?;
            for (ns, dev, host) in [(&lab.hub, hub_end.as_str(), 1), (spoke, "veth0", 2)] {
                ip(&[
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("10.200.{i}.{host}/24"),
                    "dev",
                    dev,
                ])?;
                ip(&["-n", ns, "link", "set", dev, "up"])?;
            }
            ip(&["-n", spoke, "link", "set", "lo", "up"])?;
        }
        Ok(lab)
    }

    /// The hub's underlay address as spoke `i` (1-based) reaches it.
    pub fn hub_endpoint(&self, i: usize, port: u16) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::new(10, 200, i as u8, 1), port))
    }

    /// Whether a link of that name exists in the namespace.
    pub fn has_link(&self, ns: &str, name: &str) -> bool {
        Command::new("ip")
            .args(["-n", ns, "link", "show", name])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth ends (and any TUN left in it).
        for ns in self.spokes.iter().chain([&self.hub]) {
            coral_e2e::delete_netns(ns);
        }
    }
}

/// These tests need root, /dev/net/tun and iproute2; they fail, not skip.
fn require_prerequisites() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the mesh tests create network namespaces and TUN devices: run them as root"
    );
    assert!(
        Path::new("/dev/net/tun").exists(),
        "/dev/net/tun is missing: load the tun module (modprobe tun)"
    );
    assert!(
        Command::new("ip").arg("-V").output().is_ok(),
        "the `ip` command (iproute2) is needed to build the test namespaces"
    );
}

pub use coral_e2e::ip;
