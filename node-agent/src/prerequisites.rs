//! What the agent needs from the node before it loads anything, checked up
//! front so a missing piece gives one clear refusal instead of a verifier or
//! EPERM error later.

use std::fmt;
use std::path::{Path, PathBuf};

/// Kernel type information; sock_ops itself does not need CO-RE, but later
/// programs (iterators, offsets) do, and every supported kernel ships it.
pub const BTF_PATH: &str = "/sys/kernel/btf/vmlinux";

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_RESOURCE: u32 = 24;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The least-privilege set the agent asks for (CAP_SYS_ADMIN also covers
/// BPF and PERFMON on kernels older than 5.8).
pub const REQUIRED_CAPABILITIES: [(&str, u32); 3] = [
    ("CAP_BPF", CAP_BPF),
    ("CAP_PERFMON", CAP_PERFMON),
    ("CAP_NET_ADMIN", CAP_NET_ADMIN),
];

/// Before 5.11 BPF memory is charged to RLIMIT_MEMLOCK, which needs
/// CAP_SYS_RESOURCE to raise; later kernels charge the memory cgroup.
const MEMLOCK_CHARGED_BEFORE: (u32, u32) = (5, 11);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MissingPrerequisite {
    Btf,
    CgroupV2,
    Capability(&'static str),
}

impl fmt::Display for MissingPrerequisite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Btf => write!(
                f,
                "kernel BTF ({BTF_PATH}): use a kernel built with CONFIG_DEBUG_INFO_BTF=y"
            ),
            Self::CgroupV2 => write!(
                f,
                "a cgroup v2 mount (none in /proc/self/mountinfo): mount cgroup2, \
                 e.g. `mount -t cgroup2 none /sys/fs/cgroup/unified`"
            ),
            Self::Capability(name) => write!(
                f,
                "{name}: add it to the container's securityContext.capabilities"
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the node-agent cannot start; missing: {}", list(.missing))]
pub struct PrerequisiteError {
    pub missing: Vec<MissingPrerequisite>,
}

fn list(missing: &[MissingPrerequisite]) -> String {
    missing
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the checks found.
#[derive(Clone, Debug)]
pub struct Prerequisites {
    /// Where the cgroup v2 hierarchy is mounted (the attach point).
    pub cgroup_v2_root: PathBuf,
}

/// Checks BTF, the cgroup v2 mount and the effective capabilities of this
/// process; names everything missing at once.
pub fn check() -> Result<Prerequisites, PrerequisiteError> {
    let mut missing = Vec::new();
    if !Path::new(BTF_PATH).exists() {
        missing.push(MissingPrerequisite::Btf);
    }
    let cgroup_v2_root = std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|text| cgroup_v2_mount(&text));
    if cgroup_v2_root.is_none() {
        missing.push(MissingPrerequisite::CgroupV2);
    }
    let effective = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| effective_capabilities(&text))
        .unwrap_or(0);
    let needs_memlock = kernel_release()
        .and_then(|release| kernel_version(&release))
        .is_none_or(|version| version < MEMLOCK_CHARGED_BEFORE);
    missing.extend(missing_capabilities(effective, needs_memlock));
    match cgroup_v2_root {
        Some(cgroup_v2_root) if missing.is_empty() => Ok(Prerequisites { cgroup_v2_root }),
        _ => Err(PrerequisiteError { missing }),
    }
}

/// The mount point of the first cgroup2 file system in a mountinfo text.
pub fn cgroup_v2_mount(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        // "<id> <parent> <maj:min> <root> <mount point> <opts> [optional…] - <fstype> …"
        let (before, after) = line.split_once(" - ")?;
        let fstype = after.split_whitespace().next()?;
        let mount_point = before.split_whitespace().nth(4)?;
        (fstype == "cgroup2").then(|| PathBuf::from(unescape_octal(mount_point)))
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|digits| u8::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `CapEff` from a /proc/<pid>/status text.
pub fn effective_capabilities(status: &str) -> Option<u64> {
    let hex = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

fn kernel_release() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()
}

/// `(major, minor)` of a release such as `6.18.44-fc-v669`.
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The required capabilities absent from `effective`; CAP_SYS_RESOURCE only
/// when the kernel charges BPF memory to RLIMIT_MEMLOCK.
pub fn missing_capabilities(effective: u64, needs_memlock: bool) -> Vec<MissingPrerequisite> {
    let has = |cap: u32| effective & (1u64 << cap) != 0;
    let memlock = needs_memlock.then_some(("CAP_SYS_RESOURCE", CAP_SYS_RESOURCE));
    REQUIRED_CAPABILITIES
        .iter()
        .chain(memlock.iter())
        .filter(|(_, cap)| {
            let covered_by_sys_admin = matches!(*cap, CAP_BPF | CAP_PERFMON) && has(CAP_SYS_ADMIN);
            !has(*cap) && !covered_by_sys_admin
        })
        .map(|(name, _)| MissingPrerequisite::Capability(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/un\\040ified rw,relatime shared:9 - cgroup2 cgroup2 rw
";

    #[test]
    fn finds_the_cgroup2_mount_among_v1_mounts() {
        assert_eq!(
            cgroup_v2_mount(MOUNTINFO),
            Some(PathBuf::from("/sys/fs/cgroup/un ified"))
        );
        assert_eq!(cgroup_v2_mount(&MOUNTINFO[..100]), None);
    }

    #[test]
    fn names_each_missing_capability() {
        assert!(missing_capabilities(u64::MAX, true).is_empty());
        let net_admin_only = 1 << CAP_NET_ADMIN;
        assert_eq!(
            missing_capabilities(net_admin_only, true),
            vec![
                MissingPrerequisite::Capability("CAP_BPF"),
                MissingPrerequisite::Capability("CAP_PERFMON"),
                MissingPrerequisite::Capability("CAP_SYS_RESOURCE"),
            ]
        );
        let sys_admin = (1 << CAP_SYS_ADMIN) | (1 << CAP_NET_ADMIN) | (1 << CAP_SYS_RESOURCE);
        assert!(missing_capabilities(sys_admin, true).is_empty());
        // Newer kernels: no CAP_SYS_RESOURCE needed.
        let modern = (1 << CAP_BPF) | (1 << CAP_PERFMON) | (1 << CAP_NET_ADMIN);
        assert!(missing_capabilities(modern, false).is_empty());
    }

    #[test]
    fn refusal_names_what_is_missing() {
        let err = PrerequisiteError {
            missing: vec![
                MissingPrerequisite::Btf,
                MissingPrerequisite::Capability("CAP_BPF"),
            ],
        };
        let text = err.to_string();
        assert!(text.contains("/sys/kernel/btf/vmlinux"), "{text}");
        assert!(text.contains("CAP_BPF"), "{text}");
    }

    #[test]
    fn parses_kernel_releases() {
        assert_eq!(kernel_version("6.18.44-fc-v669\n"), Some((6, 18)));
        assert_eq!(kernel_version("5.4.0-150-generic"), Some((5, 4)));
        assert!(kernel_version("6.18.44").unwrap() >= MEMLOCK_CHARGED_BEFORE);
        assert_eq!(kernel_version("garbage"), None);
    }

    #[test]
    fn reads_cap_eff() {
        let status = "Name:\tx\nCapEff:\t000001ffffffffff\n";
        assert_eq!(effective_capabilities(status), Some(0x1ff_ffff_ffff));
    }
}
