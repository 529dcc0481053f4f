//! The component inventory in Kubernetes (`--kubernetes-colony`): the
//! workloads the Colony's Connections select, as `coral status` lists them
//! (kind, version from the image tag, pods, restarts, status, uptime,
//! ports), and what happens to them (deploys, restarts with their reason,
//! scaling) as events. Outside Kubernetes there is no inventory.

mod changes;
mod components;
mod watch;

pub use coral_config::KubernetesColony;
pub use watch::{InventoryError, connect, run};
