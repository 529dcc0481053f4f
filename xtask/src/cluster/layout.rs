//! File layout of a running local cluster's state directory.

use std::path::{Path, PathBuf};

use crate::paths;

pub const APISERVER_PORT: u16 = 6443;
pub const ETCD_CLIENT_PORT: u16 = 23790;
pub const ETCD_PEER_PORT: u16 = 23800;
/// First address of the service range is the `kubernetes` Service.
pub const SERVICE_CIDR: &str = "10.96.0.0/16";
pub const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";

pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// `$CORAL_CLUSTER_DIR`, else `<cache>/cluster`.
    pub fn locate() -> Self {
        let root = std::env::var_os("CORAL_CLUSTER_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| paths::cache_dir().join("cluster"));
        StateDir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn pki(&self, file: &str) -> PathBuf {
        self.root.join("pki").join(file)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.root.join("kubeconfig")
    }

    pub fn etcd_data(&self) -> PathBuf {
        self.root.join("etcd")
    }

    pub fn log(&self, component: &str) -> PathBuf {
        self.root.join("logs").join(format!("{component}.log"))
    }

    pub fn pid(&self, component: &str) -> PathBuf {
        self.root.join("run").join(format!("{component}.pid"))
    }

    /// kwok's lifecycle stages (written at start from kwok's own defaults).
    pub fn kwok_config(&self) -> PathBuf {
        self.root.join("kwok.yaml")
    }

    /// Records which tool build this cluster runs, so `env` can find kubectl.
    pub fn bin_dir_record(&self) -> PathBuf {
        self.root.join("bin-dir")
    }
}
