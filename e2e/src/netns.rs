//! A network namespace joined to the root namespace by a veth pair: a
//! second "host" for tests that need a real network path (a colony whose
//! WireGuard port the test reaches from outside). Deleted when dropped.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result, bail};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct LinkedNetns {
    pub name: String,
    /// The root namespace's end of the link.
    pub host_addr: Ipv4Addr,
    /// The namespace's end of the link.
    pub ns_addr: Ipv4Addr,
    host_link: String,
    inner_link: String,
}

impl LinkedNetns {
    /// A namespace on a /30 of 172.29.0.0/16 picked from the process id, so
    /// parallel tests and test processes do not collide. Needs root.
    pub fn create(label: &str) -> Result<Self> {
        let serial = NEXT.fetch_add(1, Ordering::Relaxed);
        let slot = (std::process::id().wrapping_mul(7) + serial) % 16_000;
        let base = u32::from(Ipv4Addr::new(172, 29, 0, 0)) + slot * 4;
        let id = format!("{:x}", std::process::id() % 0x10000 * 16 + serial % 16);
        let netns = Self {
            name: format!("coral-{label}-{id}"),
            host_addr: Ipv4Addr::from(base + 1),
            ns_addr: Ipv4Addr::from(base + 2),
            // Interface names have at most 15 bytes.
            host_link: format!("cvh{id}"),
            inner_link: format!("cvn{id}"),
        };
        // The guard exists before the namespace, so a failure below still
        // cleans up whatever was made.
        ip(&["netns", "add", &netns.name])?;
        let inner = netns.inner_link.clone();
        ip(&[
            "link",
            "add",
            &netns.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &inner,
            "netns",
            &netns.name,
        ])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/30", netns.host_addr),
            "dev",
            &netns.host_link,
        ])?;
        ip(&["link", "set", &netns.host_link, "up"])?;
        let in_ns = |args: &[&str]| ip_in(&netns.name, args);
        in_ns(&[
            "addr",
            "add",
            &format!("{}/30", netns.ns_addr),
            "dev",
            &inner,
        ])?;
        in_ns(&["link", "set", &inner, "up"])?;
        in_ns(&["link", "set", "lo", "up"])?;
        Ok(netns)
    }

    /// One more address of the namespace, routed to it from the root
    /// namespace (as a Service's ClusterIP leads to its pod). The route goes
    /// with the link when the namespace is dropped.
    pub fn add_address(&self, address: Ipv4Addr) -> Result<()> {
        ip_in(
            &self.name,
            &[
                "addr",
                "add",
                &format!("{address}/32"),
                "dev",
                &self.inner_link,
            ],
        )?;
        ip(&[
            "route",
            "replace",
            &format!("{address}/32"),
            "via",
            &self.ns_addr.to_string(),
            "dev",
            &self.host_link,
        ])
    }

    /// `program args…` inside the namespace (`ip netns exec`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        netns_command(&self.name, program)
    }
}

impl Drop for LinkedNetns {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the veth pair, and the
        // pair with it; the explicit delete covers a half-made namespace.
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
        delete_netns(&self.name);
    }
}

/// `program args…` inside the namespace `netns` (`ip netns exec`).
pub fn netns_command(netns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", netns]).arg(program);
    command
}

/// `ip -n netns args…`.
pub fn ip_in(netns: &str, args: &[&str]) -> Result<()> {
    let mut all = vec!["-n", netns];
    all.extend_from_slice(args);
    ip(&all)
}

/// Runs `f` on a new thread that has joined the namespace `netns`
/// (network namespaces can be entered per thread). Sockets it creates stay
/// in that namespace after the thread ends.
pub fn spawn_in_netns<T: Send + 'static>(
    netns: &str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::thread::JoinHandle<Result<T>> {
    let path = format!("/run/netns/{netns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).with_context(|| format!("open {path}"))?;
        use std::os::fd::AsRawFd;
        // SAFETY: a valid namespace fd; only this thread changes namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            bail!("setns {path}: {}", std::io::Error::last_os_error());
        }
        f()
    })
}

/// Deletes a namespace, ignoring failure: for cleanup in `Drop`.
pub fn delete_netns(name: &str) {
    let _ = Command::new("ip").args(["netns", "del", name]).output();
}

/// `ip args…` (iproute2); the error carries its stderr.
pub fn ip(args: &[&str]) -> Result<()> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .context("cannot run `ip` (iproute2); the test needs it and root")?;
    if !output.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
