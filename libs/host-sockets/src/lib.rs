//! Which TCP ports the processes of this host listen on, from /proc: socket
//! inodes (`/proc/<pid>/fd/*` → `socket:[inode]`) matched against the
//! listening sockets of the namespace (`/proc/<pid>/net/tcp{,6}`).
//!
//! Host mode names a process by the port it serves: the node-agent ties a
//! connecting process to its workload with [`of_process`], and
//! `coral connect` shows who serves a port with [`on_port`].

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `st` of a listening socket in /proc/net/tcp.
const TCP_LISTEN: &str = "0A";

/// A process listening on a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    pub pid: u32,
    /// The command name (`/proc/<pid>/comm`), e.g. `node`.
    pub command: String,
    pub addr: SocketAddr,
}

/// The processes listening on TCP `port` in this process's network
/// namespace (each once). Processes whose /proc cannot be read are missed.
pub fn on_port(port: u16) -> Vec<Listener> {
    let mut wanted: Vec<(u64, SocketAddr)> = Vec::new();
    for table in ["tcp", "tcp6"] {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/self/net/{table}")) {
            wanted.extend(
                listeners(&text)
                    .into_iter()
                    .filter(|(_, a)| a.port() == port),
            );
        }
    }
    if wanted.is_empty() {
        return Vec::new();
    }
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for pid in processes
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
    {
        let inodes = socket_inodes(pid);
        if let Some((_, addr)) = wanted.iter().find(|(inode, _)| inodes.contains(inode)) {
            let command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim().to_owned())
                .unwrap_or_default();
            found.push(Listener {
                pid,
                command,
                addr: *addr,
            });
        }
    }
    found
}

/// The addresses `pid` listens on; empty when the process is gone or its
/// /proc is unreadable.
pub fn of_process(pid: u32) -> Vec<SocketAddr> {
    let inodes = socket_inodes(pid);
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut listening = Vec::new();
    for table in ["tcp", "tcp6"] {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) {
            listening.extend(
                listeners(&text)
                    .into_iter()
                    .filter(|(inode, _)| inodes.contains(inode))
                    .map(|(_, addr)| addr),
            );
        }
    }
    listening
}

fn socket_inodes(pid: u32) -> HashSet<u64> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// (inode, local address) of the listening sockets in one /proc/net/tcp
/// or tcp6 table. Lines that do not parse are skipped.
fn listeners(table: &str) -> Vec<(u64, SocketAddr)> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.get(3) != Some(&TCP_LISTEN) {
                return None;
            }
            let (ip, port) = fields.get(1)?.split_once(':')?;
            let inode = fields.get(9)?.parse().ok()?;
            let port = u16::from_str_radix(port, 16).ok()?;
            Some((inode, SocketAddr::new(address(ip)?, port)))
        })
        .collect()
}

/// The kernel prints each 32-bit word of the address as a native-endian
/// hex number.
fn address(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let text = hex.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(text, 16).ok()?.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(Ipv6Addr::from(bytes).to_canonical())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listening_sockets_only() {
        // Little-endian renderings, as on the machines we run on.
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1
   3: garbage
";
        let found = listeners(table);
        assert_eq!(
            found,
            vec![
                (4242, "127.0.0.1:8080".parse().unwrap()),
                (77, "0.0.0.0:3000".parse().unwrap())
            ]
        );
        let v6 = "header\n   0: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 0 0 0 0 0 9 1\n";
        assert_eq!(listeners(v6), vec![(9, "[::1]:5432".parse().unwrap())]);
    }

    #[test]
    fn finds_this_process_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(of_process(std::process::id()).contains(&addr));
        assert!(of_process(u32::MAX).is_empty());
        let me = on_port(addr.port());
        assert_eq!(me.len(), 1, "{me:?}");
        assert_eq!((me[0].pid, me[0].addr), (std::process::id(), addr));
        assert!(!me[0].command.is_empty());
    }
}
