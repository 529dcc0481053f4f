//! The demo's pod network: each pod is a network namespace carrying its pod
//! IP, and all of them hang off one bridge (in a namespace of its own), so
//! pods reach each other at their real pod IPs.
//!
//! There is no kube-proxy on the local cluster. A Service's ClusterIP is
//! therefore placed as a second address on one pod behind it, which answers
//! ARP for it on the bridge: a client connecting to the ClusterIP reaches a
//! real backend, and the node-agent sees the ClusterIP as the destination,
//! as it would behind kube-proxy.

use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::{Context, Result};
use coral_e2e::{delete_netns, ip, ip_in, netns_command};

/// Names of every namespace the demo makes start with this, so leftovers
/// of a killed run can be found (`remove_leftovers`).
pub const NETNS_PREFIX: &str = "cdemo";

pub struct PodNetwork {
    prefix: String,
    bridge_netns: String,
    pods: Vec<PodNetns>,
}

/// One pod's namespace.
#[derive(Debug, Clone)]
pub struct PodNetns {
    pub pod: String,
    pub netns: String,
    pub ip: Ipv4Addr,
}

impl PodNetwork {
    /// An empty network: the bridge namespace with its bridge up. Needs
    /// root (or CAP_NET_ADMIN and CAP_SYS_ADMIN).
    pub fn create() -> Result<PodNetwork> {
        let prefix = format!("{NETNS_PREFIX}{}", std::process::id());
        let network = PodNetwork {
            bridge_netns: format!("{prefix}-net"),
            prefix,
            pods: Vec::new(),
        };
        // `network` exists before the namespace, so a failure below still
        // removes what was made when it is dropped.
        ip(&["netns", "add", &network.bridge_netns])
            .context("cannot create network namespaces: the demo needs root (sudo) and iproute2")?;
        network.in_bridge(&["link", "add", "br0", "type", "bridge"])?;
        network.in_bridge(&["link", "set", "br0", "up"])?;
        Ok(network)
    }

    /// A namespace for `pod` with `pod_ip` on its `eth0`, plugged into the
    /// bridge. Every destination is on-link: pod IPs and ClusterIPs alike
    /// are found by ARP on the bridge.
    pub fn add_pod(&mut self, pod: &str, pod_ip: Ipv4Addr) -> Result<PodNetns> {
        let index = self.pods.len();
        let entry = PodNetns {
            pod: pod.to_owned(),
            netns: format!("{}-p{index}", self.prefix),
            ip: pod_ip,
        };
        ip(&["netns", "add", &entry.netns])?;
        self.pods.push(entry.clone());
        let port = format!("v{index}");
        self.in_bridge(&[
            "link",
            "add",
            &port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &entry.netns,
        ])?;
        self.in_bridge(&["link", "set", &port, "master", "br0", "up"])?;
        let in_pod = |args: &[&str]| ip_in(&entry.netns, args);
        in_pod(&["addr", "add", &format!("{pod_ip}/32"), "dev", "eth0"])?;
        in_pod(&["link", "set", "eth0", "up"])?;
        in_pod(&["link", "set", "lo", "up"])?;
        in_pod(&["route", "add", "default", "dev", "eth0", "scope", "link"])?;
        Ok(entry)
    }

    /// Put a Service's ClusterIP on the pod that will answer for it.
    pub fn serve_cluster_ip(&self, pod: &PodNetns, cluster_ip: Ipv4Addr) -> Result<()> {
        ip_in(
            &pod.netns,
            &["addr", "add", &format!("{cluster_ip}/32"), "dev", "eth0"],
        )
    }

    /// `program` inside `pod`'s namespace.
    pub fn command(&self, pod: &PodNetns, program: impl AsRef<std::ffi::OsStr>) -> Command {
        netns_command(&pod.netns, program)
    }

    fn in_bridge(&self, args: &[&str]) -> Result<()> {
        ip_in(&self.bridge_netns, args)
    }
}

impl Drop for PodNetwork {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth end, and the pair with it.
        for pod in &self.pods {
            delete_netns(&pod.netns);
        }
        delete_netns(&self.bridge_netns);
    }
}

/// Deletes the namespaces of demo runs that were killed before they could
/// clean up (their process is gone). Returns how many were removed.
pub fn remove_leftovers() -> Result<usize> {
    let output = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .context("cannot run `ip netns list`")?;
    let mut removed = 0;
    for name in String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
    {
        let Some(owner) = leftover_owner(name) else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        if Command::new("ip")
            .args(["netns", "del", name])
            .status()
            .is_ok_and(|s| s.success())
        {
            removed += 1;
        }
    }
    Ok(removed)
}

/// The pid in a demo namespace name (`cdemo<pid>-…`), if it is one.
fn leftover_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NETNS_PREFIX)?;
    let (pid, _) = rest.split_once('-')?;
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_names_carry_their_owner() {
        assert_eq!(leftover_owner("cdemo4242-net"), Some(4242));
        assert_eq!(leftover_owner("cdemo17-p3"), Some(17));
        assert_eq!(leftover_owner("coral-colony-1a"), None);
        assert_eq!(leftover_owner("cdemoX-net"), None);
    }
}
