//! The proto3-JSON shapes users see in the READMEs' curl examples are a
//! contract: camelCase out, snake_case accepted in, int64 as strings.

use coral_proto::Timestamp;
use coral_proto::discovery::v1::{HealthResponse, LookupColonyRequest, LookupColonyResponse};

#[test]
fn health_response_uses_camel_case_and_int64_strings() {
    let health = HealthResponse {
        status: "ok".into(),
        version: "dev".into(),
        uptime_seconds: 123,
        registered_colonies: 1,
    };
    let json = serde_json::to_string(&health).unwrap();
    assert_eq!(
        json,
        r#"{"status":"ok","version":"dev","uptimeSeconds":"123","registeredColonies":1}"#
    );
}

#[test]
fn lookup_request_accepts_snake_case_as_curl_users_send_it() {
    let req: LookupColonyRequest =
        serde_json::from_str(r#"{"mesh_id":"my-app-dev-a1b2c3"}"#).unwrap();
    assert_eq!(req.mesh_id, "my-app-dev-a1b2c3");
    let req: LookupColonyRequest = serde_json::from_str(r#"{"meshId":"x"}"#).unwrap();
    assert_eq!(req.mesh_id, "x");
}

#[test]
fn timestamps_render_as_rfc3339() {
    let resp = LookupColonyResponse {
        mesh_id: "a".into(),
        connect_port: 9000,
        last_seen: Some(Timestamp {
            seconds: 1761771000,
            nanos: 0,
        }),
        ..Default::default()
    };
    let json: serde_json::Value = serde_json::to_value(&resp).unwrap();
    assert_eq!(json["lastSeen"], "2025-10-29T20:50:00Z");
    assert_eq!(json["connectPort"], 9000);
}

#[test]
fn timestamps_parse_back_from_json() {
    let resp: LookupColonyResponse =
        serde_json::from_str(r#"{"meshId":"a","lastSeen":"2025-10-29T20:50:00.5Z"}"#).unwrap();
    let ts = resp.last_seen.unwrap();
    assert_eq!((ts.seconds, ts.nanos), (1761771000, 500_000_000));
}

#[test]
fn timestamps_keep_the_protobuf_wire_format() {
    use prost::Message;
    let ts = Timestamp {
        seconds: 1761771000,
        nanos: 7,
    };
    let decoded =
        coral_proto::pbjson_types::Timestamp::decode(ts.encode_to_vec().as_slice()).unwrap();
    assert_eq!((decoded.seconds, decoded.nanos), (1761771000, 7));
}
