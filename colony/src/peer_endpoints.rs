//! Where each agent's WireGuard traffic last came from, kept in the data
//! directory (`mesh-peers`, one `pubkey endpoint` line per agent). A
//! restarted hub starts with those endpoints, so it sends each known agent a
//! handshake at once instead of waiting for the agent's next keepalive or
//! retry to find out that the session is gone.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use coral_mesh::MeshHandle;

pub const FILE: &str = "mesh-peers";

/// Agent public key (base64) → UDP endpoint.
pub type Endpoints = BTreeMap<String, SocketAddr>;

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// The saved endpoints; a missing file is none, and a line that does not
/// parse is skipped (the agent is then found when it calls).
pub fn load(path: &Path) -> Endpoints {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Endpoints::new(),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot read the saved agent endpoints; agents reconnect on their own");
            return Endpoints::new();
        }
    };
    parse(&text)
}

fn parse(text: &str) -> Endpoints {
    text.lines()
        .filter_map(|line| {
            let (key, endpoint) = line.trim().split_once(' ')?;
            Some((key.to_owned(), endpoint.trim().parse().ok()?))
        })
        .collect()
}

fn render(endpoints: &Endpoints) -> String {
    endpoints
        .iter()
        .map(|(key, endpoint)| format!("{key} {endpoint}\n"))
        .collect()
}

/// Writes a sibling temp file, then renames it over `path`.
fn save(path: &Path, endpoints: &Endpoints) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(render(endpoints).as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Every `interval`, saves the hub's peers' current endpoints when they
/// changed. Peers the hub has not heard from keep their saved endpoint.
pub async fn keep(hub: MeshHandle, path: PathBuf, mut saved: Endpoints, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Ok(stats) = hub.stats().await else {
            return; // the hub is gone
        };
        let mut current = saved.clone();
        current.retain(|key, _| {
            stats
                .peers
                .iter()
                .any(|peer| peer.public_key.to_base64() == *key)
        });
        for peer in &stats.peers {
            if let Some(endpoint) = peer.endpoint {
                current.insert(peer.public_key.to_base64(), endpoint);
            }
        }
        if current != saved {
            match save(&path, &current) {
                Ok(()) => saved = current,
                Err(error) => {
                    tracing::warn!(path = %path.display(), %error, "cannot save the agents' endpoints")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_lines_are_skipped() {
        let endpoints = Endpoints::from([
            ("a2V5MQ==".to_owned(), "10.0.0.7:41580".parse().unwrap()),
            ("a2V5Mg==".to_owned(), "[fd00::2]:5000".parse().unwrap()),
        ]);
        assert_eq!(parse(&render(&endpoints)), endpoints);
        let mixed = "a2V5MQ== 10.0.0.7:41580\nnot-a-line\nk nowhere\n";
        assert_eq!(parse(mixed).len(), 1);

        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path());
        assert!(load(&file).is_empty());
        save(&file, &endpoints).unwrap();
        assert_eq!(load(&file), endpoints);
    }
}
