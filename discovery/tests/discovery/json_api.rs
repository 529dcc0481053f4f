//! Connect-JSON as the README's curl commands speak it.

use http::{Method, StatusCode};
use serde_json::json;

use crate::support::{SERVICE, Server, colony, json_of, key};

#[tokio::test]
async fn health_answers_post_and_get_in_proto3_json() {
    let server = Server::start(&[]);
    // A fresh server still reports every field, zeros included.
    let (status, fresh) = server.post("Health", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fresh["registeredColonies"], 0);
    assert!(fresh["uptimeSeconds"].is_string(), "{fresh}");
    server
        .post("RegisterColony", &colony("my-app-dev-a1b2c3", &key(1)))
        .await;
    let (status, health) = server.post("Health", &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let object = health.as_object().unwrap();
    let mut keys: Vec<_> = object.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["registeredColonies", "status", "uptimeSeconds", "version"]
    );
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(health["registeredColonies"], 1);
    let uptime = health["uptimeSeconds"].as_str().expect("int64 as a string");
    assert!(uptime.parse::<u64>().is_ok(), "{uptime}");

    // Users also check health with a plain GET (curl without a body).
    let (status, body) = server
        .raw(Method::GET, &format!("{SERVICE}/Health"), None, "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_of(&body)["registeredColonies"], 1);
}

#[tokio::test]
async fn register_then_lookup_returns_the_documented_shape() {
    let server = Server::start(&["--ttl", "300"]);
    let (status, registered) = server
        .post("RegisterColony", &colony("my-app-dev-a1b2c3", &key(1)))
        .await;
    assert_eq!(status, StatusCode::OK, "{registered}");
    assert_eq!(registered["success"], true);
    assert_eq!(registered["ttl"], 300);
    let expires = registered["expiresAt"].as_str().unwrap();
    assert!(expires.ends_with('Z'), "{expires}");

    let (status, found) = server
        .post("LookupColony", &json!({"mesh_id": "my-app-dev-a1b2c3"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let last_seen = found["lastSeen"].as_str().unwrap().to_owned();
    assert!(last_seen.ends_with('Z'));
    assert_eq!(
        found,
        json!({
            "meshId": "my-app-dev-a1b2c3",
            "pubkey": key(1),
            "endpoints": [":41581"],
            "meshIpv4": "10.42.0.1",
            "meshIpv6": "fd42::1",
            "connectPort": 9000,
            "metadata": {"application": "my-app", "environment": "dev"},
            "lastSeen": last_seen,
        })
    );
    // camelCase input is accepted too.
    let (status, _) = server
        .post("LookupColony", &json!({"meshId": "my-app-dev-a1b2c3"}))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_colony_is_404_not_found() {
    let server = Server::start(&[]);
    let (status, body) = server
        .post("LookupColony", &json!({"mesh_id": "my-app-dev-a1b2c3"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"code": "not_found", "message": "colony not found: my-app-dev-a1b2c3"})
    );
}

#[tokio::test]
async fn deregister_needs_the_owning_key() {
    let server = Server::start(&[]);
    server.post("RegisterColony", &colony("c1", &key(1))).await;
    let (status, body) = server
        .post(
            "DeregisterColony",
            &json!({"mesh_id": "c1", "pubkey": key(2)}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "permission_denied");
    assert_eq!(server.registered_colonies().await, 1);

    let (status, body) = server
        .post(
            "DeregisterColony",
            &json!({"mesh_id": "c1", "pubkey": key(1)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["removed"], true);
    let (status, _) = server.post("LookupColony", &json!({"mesh_id": "c1"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Idempotent: a second deregistration removes nothing and is not an error.
    let (status, body) = server
        .post(
            "DeregisterColony",
            &json!({"mesh_id": "c1", "pubkey": key(1)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({}));
}

#[tokio::test]
async fn agents_register_and_look_up() {
    let server = Server::start(&[]);
    let agent = json!({
        "agent_id": "node-1",
        "mesh_id": "my-app-dev-a1b2c3",
        "pubkey": key(3),
        "endpoints": ["192.168.1.10:41580"],
        "metadata": {"node": "node-1"},
    });
    let (status, body) = server.post("RegisterAgent", &agent).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    let (status, found) = server
        .post("LookupAgent", &json!({"agent_id": "node-1"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["agentId"], "node-1");
    assert_eq!(found["meshId"], "my-app-dev-a1b2c3");
    assert_eq!(found["endpoints"], json!(["192.168.1.10:41580"]));
    let (status, body) = server
        .post("LookupAgent", &json!({"agent_id": "node-2"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "agent not found: node-2");
}

#[tokio::test]
async fn json_works_over_h2c_too() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let server = Server::start(&[]);
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<bytes::Bytes>>();
    let request = http::Request::post(format!("http://{}{SERVICE}/Health", server.addr))
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from_static(b"{}")))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(json_of(&body)["status"], "ok");
}
