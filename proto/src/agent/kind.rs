//! Workload kinds on the wire and by name. Agents and the colony name kinds
//! as Kubernetes does ("Deployment", "StatefulSet", …; the agent's names
//! come from `coral-workloads`); the wire carries the enum, plus the name
//! itself for a controller kind the enum does not list.

use super::v1::{Endpoint, WorkloadKind};

impl WorkloadKind {
    /// Every kind with a name of its own.
    pub const NAMED: [WorkloadKind; 9] = [
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::Job,
        WorkloadKind::ReplicaSet,
        WorkloadKind::Pod,
        WorkloadKind::Service,
        WorkloadKind::Process,
        WorkloadKind::External,
    ];

    /// The kind's name, `None` for `Unspecified` and `Other` (whose name
    /// travels in `Endpoint::other_kind`).
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::Pod => "Pod",
            WorkloadKind::Service => "Service",
            WorkloadKind::Process => "Process",
            WorkloadKind::External => "External",
            WorkloadKind::Unspecified | WorkloadKind::Other => return None,
        })
    }

    /// The kind called `name`: `Unspecified` for an empty name, `Other` for
    /// one not listed.
    pub fn from_name(name: &str) -> Self {
        if name.is_empty() {
            return WorkloadKind::Unspecified;
        }
        Self::NAMED
            .into_iter()
            .find(|kind| kind.name() == Some(name))
            .unwrap_or(WorkloadKind::Other)
    }
}

impl Endpoint {
    /// Sets `kind`, and `other_kind` for a name the enum does not list.
    pub fn set_kind_name(&mut self, name: &str) {
        let kind = WorkloadKind::from_name(name);
        self.set_kind(kind);
        self.other_kind = if kind == WorkloadKind::Other {
            name.to_owned()
        } else {
            String::new()
        };
    }

    /// The kind's name: a listed kind's, `other_kind` for `Other`; `None`
    /// when unspecified, or a value this build does not know.
    pub fn kind_name(&self) -> Option<&str> {
        match WorkloadKind::try_from(self.kind) {
            Ok(WorkloadKind::Other) => (!self.other_kind.is_empty()).then_some(&*self.other_kind),
            Ok(kind) => kind.name(),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in WorkloadKind::NAMED {
            let name = kind.name().expect("a named kind");
            assert_eq!(WorkloadKind::from_name(name), kind);
            let mut endpoint = Endpoint::default();
            endpoint.set_kind_name(name);
            assert_eq!((endpoint.kind(), endpoint.kind_name()), (kind, Some(name)));
            assert!(endpoint.other_kind.is_empty());
        }
    }

    #[test]
    fn other_and_missing_kinds() {
        let mut endpoint = Endpoint::default();
        assert_eq!(endpoint.kind_name(), None);
        endpoint.set_kind_name("Rollout");
        assert_eq!(endpoint.kind(), WorkloadKind::Other);
        assert_eq!(endpoint.kind_name(), Some("Rollout"));
        endpoint.set_kind_name("");
        assert_eq!(
            (endpoint.kind(), endpoint.kind_name()),
            (WorkloadKind::Unspecified, None)
        );
        assert!(endpoint.other_kind.is_empty());
        // A kind from a newer agent that this build does not list.
        endpoint.kind = 99;
        assert_eq!(endpoint.kind_name(), None);
    }
}
