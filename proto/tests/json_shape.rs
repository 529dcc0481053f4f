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

#[test]
fn flows_carry_rtt_as_sum_and_count_and_kinds_as_enum_names() {
    use coral_proto::agent::v1::{Endpoint, Flow, WorkloadKind};
    let mut web = Endpoint {
        ip: "10.0.0.1".into(),
        namespace: "shop".into(),
        workload: "web".into(),
        ..Default::default()
    };
    web.set_kind(WorkloadKind::Deployment);
    let external = Endpoint {
        ip: "203.0.113.9".into(),
        port: 443,
        kind: WorkloadKind::External as i32,
        ..Default::default()
    };
    let flow = Flow {
        source: Some(web),
        destination: Some(external),
        connections_opened: 2,
        rtt_sum_us: 300,
        rtt_samples: 2,
        ..Default::default()
    };
    let json = serde_json::to_value(&flow).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "source": {"ip": "10.0.0.1", "namespace": "shop", "workload": "web",
                       "kind": "WORKLOAD_KIND_DEPLOYMENT"},
            "destination": {"ip": "203.0.113.9", "port": 443, "kind": "WORKLOAD_KIND_EXTERNAL"},
            "connectionsOpened": "2",
            "rttSumUs": "300",
            "rttSamples": "2",
        })
    );
    let back: Flow = serde_json::from_value(json).unwrap();
    assert_eq!(back, flow);
}

#[test]
fn l7_stats_are_an_optional_sub_message() {
    use coral_proto::agent::v1::{Flow, L7Protocol, L7Stats};
    let flow = Flow {
        l7: Some(L7Stats {
            protocol: L7Protocol::Http as i32,
            requests: 3,
            errors: 1,
            latency_buckets: vec![0, 2, 1],
        }),
        ..Default::default()
    };
    let json = serde_json::to_value(&flow).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"l7": {"protocol": "L7_PROTOCOL_HTTP", "requests": "3", "errors": "1",
                                  "latencyBuckets": ["0", "2", "1"]}})
    );
    assert!(
        serde_json::to_value(Flow::default())
            .unwrap()
            .get("l7")
            .is_none()
    );
}
