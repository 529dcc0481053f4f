//! `colonies.yaml` for the node-agents: which colonies to report to, each
//! with its connect endpoint and enrollment token. The operator keeps it in
//! the `coral-node-agent-colonies` Secret (tokens are secrets), the
//! DaemonSet mounts that Secret as a directory (so the kubelet updates the
//! file in place) and the agent re-reads the file when it changes.
//!
//! Pure: what the operator read from the cluster in, the file and the
//! Secret out; unit-tested without a cluster.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use coral_config::{AgentColoniesFile, AgentColony};
use coral_mesh_addressing::MeshIpv4Cidr;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};

use crate::colony::CONNECT_PORT;
use crate::labels;

/// The Secret in the operator's namespace that holds the file.
pub const SECRET_NAME: &str = "coral-node-agent-colonies";
/// The file's key in the Secret, and so its name in the mounted directory.
pub const FILE_KEY: &str = "colonies.yaml";
/// Where the DaemonSet mounts the Secret.
pub const MOUNT_DIR: &str = "/etc/coral/colonies";
/// `MOUNT_DIR/FILE_KEY`, the agent's `CORAL_COLONIES_FILE`.
pub const FILE_PATH: &str = "/etc/coral/colonies/colonies.yaml";

/// What the operator read about one Colony.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColonyInput {
    pub namespace: String,
    pub name: String,
    pub created: Option<Time>,
    /// `spec.mesh.ipv4CIDR`.
    pub mesh_ipv4_cidr: String,
    /// From the `<name>-colony-keys` Secret, once it exists.
    pub enrollment_token: Option<String>,
    /// Of the `<name>-colony` Service, once one is assigned.
    pub cluster_ip: Option<String>,
}

impl ColonyInput {
    /// `namespace/name`, as the file names colonies.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A Colony left out of the file because its mesh network overlaps that of
/// an older Colony: an agent routes each colony's network through that
/// colony's tunnel, so it cannot join both.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Overlap {
    /// `namespace/name` of the Colony left out.
    pub colony: String,
    pub cidr: String,
    /// `namespace/name` of the older Colony that keeps its network.
    pub with: String,
    pub with_cidr: String,
}

/// The file, and the Colonies left out for a reason the user must fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentColonies {
    pub file: AgentColoniesFile,
    pub overlaps: Vec<Overlap>,
    /// `(namespace/name, cidr)` of Colonies whose CIDR does not parse (the
    /// CRD validates it, so only objects stored around validation).
    pub invalid_cidrs: Vec<(String, String)>,
}

/// Builds the file from every Colony. Oldest first (creation time, then
/// `namespace/name`); the oldest Colony keeps a mesh network, a younger one
/// that overlaps it is left out and reported. A Colony claims its network
/// even before it is joinable, so a Colony that gets its token or
/// ClusterIP late does not push out one that is already listed. Colonies
/// without an enrollment token or a ClusterIP yet are left out until they
/// have both. The result always passes [`AgentColoniesFile::parse`].
pub fn build(mut colonies: Vec<ColonyInput>) -> AgentColonies {
    // Unknown creation time sorts last: it cannot be older than a known one.
    colonies.sort_by(|a, b| {
        (a.created.is_none(), &a.created, &a.namespace, &a.name).cmp(&(
            b.created.is_none(),
            &b.created,
            &b.namespace,
            &b.name,
        ))
    });
    let mut claimed: Vec<(String, MeshIpv4Cidr)> = Vec::new();
    let mut seen = HashSet::new();
    let mut result = AgentColonies {
        file: AgentColoniesFile::default(),
        overlaps: Vec::new(),
        invalid_cidrs: Vec::new(),
    };
    for colony in colonies {
        let key = colony.key();
        let valid_name = [&colony.namespace, &colony.name]
            .iter()
            .all(|part| !part.is_empty() && !part.contains('/'));
        if !valid_name || !seen.insert(key.clone()) {
            continue;
        }
        let Ok(network) = colony.mesh_ipv4_cidr.parse::<MeshIpv4Cidr>() else {
            result
                .invalid_cidrs
                .push((key, colony.mesh_ipv4_cidr.clone()));
            continue;
        };
        if let Some((with, with_network)) = claimed.iter().find(|(_, n)| n.overlaps(&network)) {
            result.overlaps.push(Overlap {
                colony: key,
                cidr: colony.mesh_ipv4_cidr.clone(),
                with: with.clone(),
                with_cidr: with_network.to_string(),
            });
            continue;
        }
        claimed.push((key.clone(), network));
        let token = colony
            .enrollment_token
            .filter(|token| !token.trim().is_empty());
        let endpoint = colony.cluster_ip.as_deref().and_then(endpoint);
        if let (Some(enrollment_token), Some(endpoint)) = (token, endpoint) {
            result.file.colonies.push(AgentColony {
                colony: key,
                endpoint,
                enrollment_token,
                mesh_ipv4_cidr: colony.mesh_ipv4_cidr,
            });
        }
    }
    result
}

/// `http://<ClusterIP>:9000`: an address, not a DNS name, so agents on
/// host networking need no cluster DNS. None for `None` (headless) or empty.
pub fn endpoint(cluster_ip: &str) -> Option<String> {
    let ip: IpAddr = cluster_ip.parse().ok()?;
    let port = u16::try_from(CONNECT_PORT).ok()?;
    Some(format!("http://{}", SocketAddr::new(ip, port)))
}

/// The Secret with the file, in the operator's namespace. `owner` is the
/// operator's own Deployment, as for the DaemonSet.
pub fn secret(namespace: &str, file: &AgentColoniesFile, owner: Option<OwnerReference>) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(SECRET_NAME.into()),
            namespace: Some(namespace.into()),
            labels: Some(labels::node_agent_labels()),
            owner_references: owner.map(|owner| vec![owner]),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        // `data`, not `stringData`: the apiserver stores only `data`, and an
        // unchanged resync must find every desired field in the live object.
        data: Some(BTreeMap::from([(
            FILE_KEY.to_string(),
            ByteString(file.to_yaml().into_bytes()),
        )])),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Option<Time> {
        Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(1_700_000_000 + seconds).unwrap(),
        ))
    }

    fn colony(namespace: &str, name: &str, created: i64, cidr: &str) -> ColonyInput {
        ColonyInput {
            namespace: namespace.into(),
            name: name.into(),
            created: at(created),
            mesh_ipv4_cidr: cidr.into(),
            enrollment_token: Some(format!("token-{name}")),
            cluster_ip: Some("10.96.0.10".into()),
        }
    }

    fn names(built: &AgentColonies) -> Vec<&str> {
        built
            .file
            .colonies
            .iter()
            .map(|c| c.colony.as_str())
            .collect()
    }

    fn parses(built: &AgentColonies) {
        let text = built.file.to_yaml();
        assert_eq!(
            AgentColoniesFile::parse(&text).as_ref(),
            Ok(&built.file),
            "{text}"
        );
    }

    #[test]
    fn colonies_are_listed_oldest_first_with_cluster_ip_endpoints() {
        let built = build(vec![
            colony("b", "young", 30, "10.44.0.0/16"),
            colony("b", "tie", 10, "10.45.0.0/16"),
            colony("a", "tie", 10, "10.43.0.0/16"),
            colony("z", "old", 0, "10.42.0.0/16"),
            ColonyInput {
                created: None,
                ..colony("a", "unknown-age", 0, "10.46.0.0/16")
            },
        ]);
        assert_eq!(
            names(&built),
            ["z/old", "a/tie", "b/tie", "b/young", "a/unknown-age"]
        );
        let first = &built.file.colonies[0];
        assert_eq!(first.endpoint, "http://10.96.0.10:9000");
        assert_eq!(first.enrollment_token, "token-old");
        assert_eq!(first.mesh_ipv4_cidr, "10.42.0.0/16");
        assert!(built.overlaps.is_empty() && built.invalid_cidrs.is_empty());
        parses(&built);
    }

    #[test]
    fn colonies_without_token_or_cluster_ip_wait() {
        let built = build(vec![
            ColonyInput {
                enrollment_token: None,
                ..colony("ns", "no-keys", 0, "10.42.0.0/16")
            },
            ColonyInput {
                enrollment_token: Some(" ".into()),
                ..colony("ns", "empty-token", 1, "10.43.0.0/16")
            },
            ColonyInput {
                cluster_ip: None,
                ..colony("ns", "no-service", 2, "10.44.0.0/16")
            },
            ColonyInput {
                cluster_ip: Some("None".into()),
                ..colony("ns", "headless", 3, "10.45.0.0/16")
            },
            ColonyInput {
                cluster_ip: Some("fd00::10".into()),
                ..colony("ns", "ipv6", 4, "10.46.0.0/16")
            },
        ]);
        assert_eq!(names(&built), ["ns/ipv6"]);
        assert_eq!(built.file.colonies[0].endpoint, "http://[fd00::10]:9000");
        parses(&built);
        assert_eq!(build(Vec::new()).file, AgentColoniesFile::default());
        parses(&build(Vec::new()));
    }

    #[test]
    fn a_younger_overlapping_colony_is_left_out_and_reported() {
        let built = build(vec![
            colony("shop", "second", 20, "10.42.0.0/16"),
            colony("shop", "first", 10, "10.42.0.0/16"),
            colony("team", "inside", 30, "10.42.7.0/24"),
            colony("team", "apart", 40, "10.43.0.0/16"),
            colony("team", "bad", 50, "10.44.0.0"),
        ]);
        assert_eq!(names(&built), ["shop/first", "team/apart"]);
        assert_eq!(
            built.overlaps,
            [
                Overlap {
                    colony: "shop/second".into(),
                    cidr: "10.42.0.0/16".into(),
                    with: "shop/first".into(),
                    with_cidr: "10.42.0.0/16".into(),
                },
                Overlap {
                    colony: "team/inside".into(),
                    cidr: "10.42.7.0/24".into(),
                    with: "shop/first".into(),
                    with_cidr: "10.42.0.0/16".into(),
                },
            ]
        );
        assert_eq!(
            built.invalid_cidrs,
            [("team/bad".to_string(), "10.44.0.0".to_string())]
        );
        parses(&built);
    }

    #[test]
    fn an_older_colony_keeps_its_network_before_it_is_joinable() {
        // The younger one is not listed now and will not be pushed out later.
        let built = build(vec![
            ColonyInput {
                cluster_ip: None,
                ..colony("a", "old", 0, "10.42.0.0/16")
            },
            colony("b", "young", 10, "10.42.0.0/16"),
        ]);
        assert!(built.file.colonies.is_empty());
        assert_eq!(built.overlaps[0].colony, "b/young");
        assert_eq!(built.overlaps[0].with, "a/old");
    }

    #[test]
    fn tokens_that_need_quoting_survive_the_file() {
        let mut tricky = Vec::new();
        for (i, token) in ["-abc", "123", "true", "null", "a: b", "#x", "~", "'q\""]
            .iter()
            .enumerate()
        {
            tricky.push(ColonyInput {
                enrollment_token: Some(token.to_string()),
                ..colony("ns", &format!("c{i}"), i as i64, &format!("10.{i}.0.0/16"))
            });
        }
        let built = build(tricky);
        assert_eq!(built.file.colonies.len(), 8);
        parses(&built);
    }

    #[test]
    fn secret_carries_the_file_as_data_with_node_agent_labels() {
        let built = build(vec![colony("shop", "shop", 0, "10.42.0.0/16")]);
        let owner = OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "coral-operator".into(),
            uid: "u-1".into(),
            ..Default::default()
        };
        let secret = secret("coral-system", &built.file, Some(owner));
        assert_eq!(secret.metadata.name.as_deref(), Some(SECRET_NAME));
        assert_eq!(secret.metadata.namespace.as_deref(), Some("coral-system"));
        assert_eq!(secret.metadata.labels, Some(labels::node_agent_labels()));
        assert_eq!(secret.metadata.owner_references.unwrap()[0].uid, "u-1");
        assert_eq!(secret.string_data, None);
        let data = secret.data.unwrap();
        let text = String::from_utf8(data[FILE_KEY].0.clone()).unwrap();
        assert_eq!(AgentColoniesFile::parse(&text).unwrap(), built.file);
        assert_eq!(FILE_PATH, format!("{MOUNT_DIR}/{FILE_KEY}"));
    }
}
