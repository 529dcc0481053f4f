//! The fake nodes kwok manages: no taints, so Deployments, StatefulSets and
//! DaemonSets all land on them, and a podCIDR each so pod IPs are
//! predictable for tests that back pods with network namespaces.

pub const NODE_COUNT: usize = 3;

pub fn node_name(index: usize) -> String {
    format!("coral-node-{}", index + 1)
}

/// Pod CIDR of node `index` (0-based): 10.244.<index+1>.0/24.
pub fn pod_cidr(index: usize) -> String {
    format!("10.244.{}.0/24", index + 1)
}

pub fn manifest() -> String {
    (0..NODE_COUNT)
        .map(|index| {
            format!(
                "apiVersion: v1
kind: Node
metadata:
  name: {name}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: \"0\"
  labels:
    kubernetes.io/hostname: {name}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
spec:
  podCIDR: {cidr}
  podCIDRs: [\"{cidr}\"]
status:
  allocatable: {{cpu: \"32\", memory: 64Gi, pods: \"250\"}}
  capacity: {{cpu: \"32\", memory: 64Gi, pods: \"250\"}}
",
                name = node_name(index),
                cidr = pod_cidr(index),
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_gets_a_distinct_pod_cidr_inside_the_cluster_cidr() {
        let doc = manifest();
        for index in 0..NODE_COUNT {
            assert!(doc.contains(&format!("name: {}", node_name(index))));
            assert!(doc.contains(&format!("podCIDR: {}", pod_cidr(index))));
        }
        assert_eq!(doc.matches("kind: Node").count(), NODE_COUNT);
        assert!(pod_cidr(0).starts_with("10.244."));
    }
}
