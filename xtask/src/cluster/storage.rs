//! Storage for the local cluster. There is no kubelet and no provisioner, so
//! `up` installs a default StorageClass and a pool of pre-made
//! PersistentVolumes for PVCs (a StatefulSet's volumeClaimTemplates) to bind
//! to. Nothing is mounted: kwok runs no containers.

pub const STORAGE_CLASS: &str = "standard";
pub const VOLUME_COUNT: usize = 64;

pub fn manifest(state_root: &std::path::Path) -> String {
    let mut docs = vec![format!(
        "apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {STORAGE_CLASS}
  annotations:
    storageclass.kubernetes.io/is-default-class: \"true\"
provisioner: kubernetes.io/no-provisioner
reclaimPolicy: Delete
volumeBindingMode: Immediate
"
    )];
    for index in 0..VOLUME_COUNT {
        docs.push(format!(
            "apiVersion: v1
kind: PersistentVolume
metadata:
  name: coral-local-pv-{index:03}
  labels:
    coral.io/local-cluster: \"true\"
spec:
  storageClassName: {STORAGE_CLASS}
  capacity: {{storage: 100Gi}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath:
    path: {root}/volumes/{index:03}
",
            root = state_root.display()
        ));
    }
    docs.join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_has_one_default_class_and_distinct_volumes() {
        let doc = manifest(std::path::Path::new("/state"));
        assert_eq!(doc.matches("kind: StorageClass").count(), 1);
        assert!(doc.contains("is-default-class: \"true\""));
        assert_eq!(
            doc.matches("kind: PersistentVolume\n").count(),
            VOLUME_COUNT
        );
        assert!(doc.contains("name: coral-local-pv-063"));
    }
}
