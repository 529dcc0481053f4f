//! Kubernetes-convention conditions: a transition time that only moves when
//! the status flips, and the generation each condition was computed for.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";

/// A condition before timestamps are filled in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionState {
    pub type_: &'static str,
    pub status: bool,
    pub reason: &'static str,
    pub message: String,
}

impl ConditionState {
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }
}

/// Builds the condition list, keeping `lastTransitionTime` from `existing`
/// when a condition's status did not change (so an unchanged world yields an
/// identical status and no write).
pub fn merge(
    existing: &[Condition],
    wanted: &[ConditionState],
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    wanted
        .iter()
        .map(|state| {
            let status = if state.status { "True" } else { "False" }.to_string();
            let last_transition_time = existing
                .iter()
                .find(|c| c.type_ == state.type_ && c.status == status)
                .map(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| now.clone());
            Condition {
                type_: state.type_.to_string(),
                status,
                reason: state.reason.to_string(),
                message: state.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn transition_time_kept_while_status_unchanged() {
        let first = merge(
            &[],
            &[ConditionState::new(READY, false, "Progressing", "starting")],
            Some(1),
            &at(10),
        );
        let again = merge(
            &first,
            &[ConditionState::new(
                READY,
                false,
                "Progressing",
                "still starting",
            )],
            Some(1),
            &at(20),
        );
        assert_eq!(again[0].last_transition_time, at(10));
        let flipped = merge(
            &again,
            &[ConditionState::new(READY, true, "Ready", "ok")],
            Some(2),
            &at(30),
        );
        assert_eq!(flipped[0].last_transition_time, at(30));
        assert_eq!(flipped[0].observed_generation, Some(2));
        assert_eq!(flipped[0].status, "True");
    }
}
