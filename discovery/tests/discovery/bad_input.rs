//! Every class of bad input is refused with a precise error and leaves the
//! registry exactly as it was.

use http::{Method, StatusCode};
use serde_json::{Value, json};
use tonic::Code;

use crate::support::{SERVICE, Server, colony, json_of, key};

/// The entry every bad request tries (and fails) to change.
const ID: &str = "stable-colony";

async fn snapshot(server: &Server) -> (Value, i64) {
    let (status, found) = server.post("LookupColony", &json!({"mesh_id": ID})).await;
    assert_eq!(status, StatusCode::OK);
    (found, server.registered_colonies().await)
}

fn with(field: &str, value: Value) -> Value {
    let mut body = colony(ID, &key(1));
    body[field] = value;
    body
}

#[tokio::test]
async fn invalid_fields_are_named_and_change_nothing() {
    let server = Server::start(&[]);
    let (status, _) = server.post("RegisterColony", &colony(ID, &key(1))).await;
    assert_eq!(status, StatusCode::OK);
    let before = snapshot(&server).await;

    let too_many: serde_json::Map<String, Value> =
        (0..40).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("empty mesh_id", with("mesh_id", json!("")), "mesh_id"),
        (
            "long mesh_id",
            with("mesh_id", json!("a".repeat(254))),
            "mesh_id",
        ),
        (
            "mesh_id charset",
            with("mesh_id", json!("bad id/..")),
            "mesh_id",
        ),
        (
            "pubkey not base64",
            with("pubkey", json!("not base64!")),
            "pubkey",
        ),
        (
            "pubkey 31 bytes",
            with(
                "pubkey",
                json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="),
            ),
            "pubkey",
        ),
        ("empty pubkey", with("pubkey", json!("")), "pubkey"),
        (
            "endpoint without port",
            with("endpoints", json!(["colony.example.com"])),
            "endpoints[0]",
        ),
        (
            "endpoint port 0",
            with("endpoints", json!([":41581", "1.2.3.4:0"])),
            "endpoints[1]",
        ),
        (
            "endpoint port too big",
            with("endpoints", json!(["1.2.3.4:65536"])),
            "endpoints[0]",
        ),
        (
            "endpoint bad host",
            with("endpoints", json!(["bad_host!:80"])),
            "endpoints[0]",
        ),
        (
            "ipv4 given ipv6",
            with("mesh_ipv4", json!("fd42::1")),
            "mesh_ipv4",
        ),
        (
            "ipv4 garbage",
            with("mesh_ipv4", json!("10.42.0.300")),
            "mesh_ipv4",
        ),
        (
            "ipv6 given ipv4",
            with("mesh_ipv6", json!("10.42.0.1")),
            "mesh_ipv6",
        ),
        (
            "connect_port 0",
            with("connect_port", json!(0)),
            "connect_port",
        ),
        (
            "connect_port too big",
            with("connect_port", json!(70000)),
            "connect_port",
        ),
        (
            "too much metadata",
            with("metadata", Value::Object(too_many)),
            "metadata",
        ),
        (
            "metadata value too long",
            with("metadata", json!({"k": "v".repeat(300)})),
            "metadata[k]",
        ),
    ];
    for (name, body, field) in cases {
        let (status, error) = server.post("RegisterColony", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {error}");
        assert_eq!(error["code"], "invalid_argument", "{name}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("invalid {field}:")),
            "{name}: message {message:?} should name {field}"
        );
    }
    // Lookups and deregistrations validate too.
    let (status, error) = server.post("LookupColony", &json!({"mesh_id": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["message"].as_str().unwrap().contains("mesh_id"));
    let (status, error) = server
        .post(
            "DeregisterColony",
            &json!({"mesh_id": ID, "pubkey": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["message"].as_str().unwrap().contains("pubkey"));

    assert_eq!(snapshot(&server).await, before);
}

#[tokio::test]
async fn protocol_errors_are_refused_without_touching_the_registry() {
    let server = Server::start(&[]);
    server.post("RegisterColony", &colony(ID, &key(1))).await;
    let before = snapshot(&server).await;
    let path = format!("{SERVICE}/RegisterColony");
    let renewal = serde_json::to_vec(&with("connect_port", json!(9999))).unwrap();

    // Malformed JSON.
    let (status, body) = server
        .raw(
            Method::POST,
            &path,
            Some("application/json"),
            "{\"mesh_id\": ",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error = json_of(&body);
    assert_eq!(error["code"], "invalid_argument");
    assert!(error["message"].as_str().unwrap().contains("invalid JSON"));

    // Wrong field type: the serde message says what was expected.
    let mistyped = serde_json::to_vec(&with("connect_port", json!("nine thousand"))).unwrap();
    let (status, body) = server
        .raw(Method::POST, &path, Some("application/json"), mistyped)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = json_of(&body)["message"].as_str().unwrap().to_owned();
    assert!(message.contains("invalid JSON"), "{message}");

    // Unsupported content type (curl -d without -H sends form encoding).
    let (status, body) = server
        .raw(
            Method::POST,
            &path,
            Some("application/x-www-form-urlencoded"),
            renewal.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let message = json_of(&body)["message"].as_str().unwrap().to_owned();
    assert!(message.contains("application/json"), "{message}");

    // A body over 1 MiB.
    let mut huge = with("connect_port", json!(9999));
    huge["metadata"] = json!({"k": "x".repeat(1024 * 1024)});
    let (status, body) = server
        .raw(
            Method::POST,
            &path,
            Some("application/json"),
            serde_json::to_vec(&huge).unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        json_of(&body)["message"]
            .as_str()
            .unwrap()
            .contains("1048576 bytes")
    );

    assert_eq!(snapshot(&server).await, before);

    // The same oversized message over gRPC is refused by tonic's limit.
    let mut client = server.grpc().await;
    let mut request = coral_proto::discovery::v1::RegisterColonyRequest {
        mesh_id: ID.into(),
        pubkey: key(1),
        connect_port: 9999,
        ..Default::default()
    };
    request
        .metadata
        .insert("k".into(), "x".repeat(2 * 1024 * 1024));
    let refused = client.register_colony(request).await.unwrap_err();
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    assert_eq!(snapshot(&server).await, before);

    let metrics = server.get_text("/metrics").await.1;
    for reason in [
        "malformed_message",
        "unsupported_media_type",
        "body_too_large",
    ] {
        assert!(
            metrics.contains(&format!("rejected_requests_total{{reason=\"{reason}\"}} ")),
            "{reason} not counted:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn grpc_invalid_argument_names_the_field() {
    let server = Server::start(&[]);
    let mut client = server.grpc().await;
    let request = coral_proto::discovery::v1::RegisterColonyRequest {
        mesh_id: "ok-id".into(),
        pubkey: key(1),
        mesh_ipv4: "not-an-ip".into(),
        connect_port: 9000,
        ..Default::default()
    };
    let refused = client.register_colony(request).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("invalid mesh_ipv4:"),
        "{refused:?}"
    );
    assert_eq!(server.registered_colonies().await, 0);
}
