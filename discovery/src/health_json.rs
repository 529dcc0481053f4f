//! Health in Connect-JSON with every field present. Canonical proto3 JSON
//! omits zero values, so a fresh server would answer without
//! `registeredColonies` or `uptimeSeconds`; scripts checking health as the
//! README shows it (`{"status","version","uptimeSeconds","registeredColonies"}`)
//! expect all four.

use coral_proto::discovery::v1::HealthResponse;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthJson {
    status: String,
    version: String,
    /// int64 is a JSON string in proto3 JSON.
    uptime_seconds: String,
    registered_colonies: i32,
}

impl From<HealthResponse> for HealthJson {
    fn from(health: HealthResponse) -> Self {
        HealthJson {
            status: health.status,
            version: health.version,
            uptime_seconds: health.uptime_seconds.to_string(),
            registered_colonies: health.registered_colonies,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_values_are_kept() {
        let json = serde_json::to_string(&HealthJson::from(HealthResponse {
            status: "ok".into(),
            version: "dev".into(),
            uptime_seconds: 0,
            registered_colonies: 0,
        }))
        .unwrap();
        assert_eq!(
            json,
            r#"{"status":"ok","version":"dev","uptimeSeconds":"0","registeredColonies":0}"#
        );
    }
}
