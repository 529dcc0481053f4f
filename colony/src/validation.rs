//! Checks on agent input. Every refusal names the field and the limit.

use base64::Engine as _;
use coral_proto::agent::limits::{MAX_FLOWS_PER_BATCH, MAX_LOCAL_COMPONENTS, MAX_NAME_LEN};
use coral_proto::agent::v1::{Endpoint, EnrollRequest, FlowBatch, LocalComponent};

use crate::error::ColonyError;

/// How far an agent clock may run ahead of ours.
const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

fn invalid(message: String) -> ColonyError {
    ColonyError::InvalidArgument(message)
}

pub fn check_agent_id(agent_id: &str) -> Result<(), ColonyError> {
    if agent_id.is_empty() || agent_id.len() > MAX_NAME_LEN {
        return Err(invalid(format!(
            "agent_id must be 1..={MAX_NAME_LEN} characters, got {}",
            agent_id.len()
        )));
    }
    if !agent_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(invalid(format!(
            "agent_id {agent_id:?} may contain only letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(())
}

fn check_text(field: &str, value: &str) -> Result<(), ColonyError> {
    if value.len() > MAX_NAME_LEN {
        return Err(invalid(format!(
            "{field} is {} characters; the limit is {MAX_NAME_LEN}",
            value.len()
        )));
    }
    Ok(())
}

pub fn check_enroll(request: &EnrollRequest) -> Result<(), ColonyError> {
    check_agent_id(&request.agent_id)?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(&request.pubkey)
        .ok();
    if key.map(|k| k.len()) != Some(32) {
        return Err(invalid(
            "pubkey must be a base64 WireGuard public key (32 bytes)".to_owned(),
        ));
    }
    check_text("node_name", &request.node_name)?;
    check_text("version", &request.version)?;
    check_text("endpoint", &request.endpoint)
}

fn check_endpoint(field: &str, endpoint: Option<&Endpoint>) -> Result<(), ColonyError> {
    let Some(endpoint) = endpoint else {
        return Err(invalid(format!("{field} is missing")));
    };
    if endpoint.workload.is_empty() && endpoint.ip.is_empty() {
        return Err(invalid(format!("{field} needs a workload or an ip")));
    }
    if endpoint.port > u32::from(u16::MAX) {
        return Err(invalid(format!(
            "{field}.port {} is not a TCP port",
            endpoint.port
        )));
    }
    for (name, value) in [
        ("ip", &endpoint.ip),
        ("namespace", &endpoint.namespace),
        ("workload", &endpoint.workload),
        ("other_kind", &endpoint.other_kind),
    ] {
        check_text(&format!("{field}.{name}"), value)?;
    }
    Ok(())
}

pub fn check_local_components(components: &[LocalComponent]) -> Result<(), ColonyError> {
    if components.len() > MAX_LOCAL_COMPONENTS {
        return Err(invalid(format!(
            "{} components; the limit is {MAX_LOCAL_COMPONENTS}",
            components.len()
        )));
    }
    for (index, component) in components.iter().enumerate() {
        if component.name.is_empty() {
            return Err(invalid(format!("components[{index}].name is empty")));
        }
        for (name, value) in [
            ("namespace", &component.namespace),
            ("name", &component.name),
        ] {
            check_text(&format!("components[{index}].{name}"), value)?;
        }
        if let Some(port) = component.ports.iter().find(|p| **p == 0 || **p > 65_535) {
            return Err(invalid(format!(
                "components[{index}].ports: {port} is not a TCP port"
            )));
        }
    }
    Ok(())
}

/// `now` and `oldest` are Unix seconds: batches must lie between them.
pub fn check_batch(batch: &FlowBatch, now: i64, oldest: i64) -> Result<(), ColonyError> {
    check_agent_id(&batch.agent_id)?;
    if batch.sequence == 0 {
        return Err(invalid(
            "sequence must be 1 or more (numbered per agent)".to_owned(),
        ));
    }
    if batch.flows.len() > MAX_FLOWS_PER_BATCH {
        return Err(invalid(format!(
            "batch has {} flows; the limit is {MAX_FLOWS_PER_BATCH}: send smaller batches",
            batch.flows.len()
        )));
    }
    let start = batch.window_start.map(|t| t.seconds);
    let end = batch.window_end.map(|t| t.seconds);
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        return Err(invalid("window_end is before window_start".to_owned()));
    }
    if let Some(start) = start {
        if start > now + MAX_CLOCK_SKEW_SECONDS {
            return Err(invalid(format!(
                "window_start is {}s in the future; check the agent's clock",
                start - now
            )));
        }
        if start < oldest {
            return Err(invalid(
                "window_start is older than the colony's retention".to_owned(),
            ));
        }
    }
    for (index, flow) in batch.flows.iter().enumerate() {
        check_endpoint(&format!("flows[{index}].source"), flow.source.as_ref())?;
        check_endpoint(
            &format!("flows[{index}].destination"),
            flow.destination.as_ref(),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use coral_proto::Timestamp;
    use coral_proto::agent::v1::Flow;

    use super::*;

    fn valid() -> FlowBatch {
        let end = Endpoint {
            ip: "10.0.0.1".into(),
            port: 80,
            ..Default::default()
        };
        FlowBatch {
            agent_id: "node-1".into(),
            sequence: 1,
            flows: vec![Flow {
                source: Some(end.clone()),
                destination: Some(end),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn refused(mutate: impl FnOnce(&mut FlowBatch)) -> String {
        let mut batch = valid();
        mutate(&mut batch);
        match check_batch(&batch, 1_000_000, 0) {
            Err(ColonyError::InvalidArgument(message)) => message,
            other => panic!("expected invalid_argument, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_valid_batch() {
        check_batch(&valid(), 1_000_000, 0).unwrap();
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(refused(|b| b.agent_id.clear()).contains("agent_id"));
        assert!(refused(|b| b.agent_id = "a/b".into()).contains("agent_id"));
        assert!(refused(|b| b.sequence = 0).contains("sequence"));
        assert!(refused(|b| b.flows[0].destination = None).contains("destination is missing"));
        assert!(refused(|b| b.flows[0].source.as_mut().unwrap().port = 70_000).contains("port"));
        assert!(
            refused(|b| b.flows[0].source.as_mut().unwrap().ip.clear())
                .contains("workload or an ip")
        );
        assert!(
            refused(|b| b.flows[0].destination.as_mut().unwrap().other_kind = "K".repeat(254))
                .contains("destination.other_kind")
        );
        let big = valid().flows[0].clone();
        assert!(refused(|b| b.flows = vec![big; MAX_FLOWS_PER_BATCH + 1]).contains("limit"));
        assert!(
            refused(|b| b.window_start = Some(Timestamp {
                seconds: 2_000_000,
                nanos: 0
            }))
            .contains("future")
        );
    }
}
