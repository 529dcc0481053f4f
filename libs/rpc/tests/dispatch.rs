//! The Connect layer in front of a real tonic service, driven in-process.

use axum::body::Body;
use coral_proto::discovery::v1::discovery_service_server::{
    DiscoveryService, DiscoveryServiceServer,
};
use coral_proto::discovery::v1::*;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tonic::{Response, Status};
use tower::ServiceExt;

use coral_rpc::{ConnectRouter, ConnectService};

const HEALTH: &str = "/coral.discovery.v1.DiscoveryService/Health";
const LOOKUP: &str = "/coral.discovery.v1.DiscoveryService/LookupColony";

/// Answers Health and a lookup that never finds anything.
#[derive(Clone)]
struct Fake;

#[tonic::async_trait]
impl DiscoveryService for Fake {
    async fn register_colony(
        &self,
        _: tonic::Request<RegisterColonyRequest>,
    ) -> Result<Response<RegisterColonyResponse>, Status> {
        Err(Status::unimplemented("not in this fake"))
    }
    async fn deregister_colony(
        &self,
        _: tonic::Request<DeregisterColonyRequest>,
    ) -> Result<Response<DeregisterColonyResponse>, Status> {
        Err(Status::unimplemented("not in this fake"))
    }
    async fn lookup_colony(
        &self,
        request: tonic::Request<LookupColonyRequest>,
    ) -> Result<Response<LookupColonyResponse>, Status> {
        Err(Status::not_found(format!(
            "colony not found: {}",
            request.get_ref().mesh_id
        )))
    }
    async fn register_agent(
        &self,
        _: tonic::Request<RegisterAgentRequest>,
    ) -> Result<Response<RegisterAgentResponse>, Status> {
        Err(Status::unimplemented("not in this fake"))
    }
    async fn lookup_agent(
        &self,
        _: tonic::Request<LookupAgentRequest>,
    ) -> Result<Response<LookupAgentResponse>, Status> {
        Err(Status::unimplemented("not in this fake"))
    }
    async fn health(
        &self,
        _: tonic::Request<HealthRequest>,
    ) -> Result<Response<HealthResponse>, Status> {
        Ok(Response::new(HealthResponse {
            status: "ok".into(),
            version: "test".into(),
            uptime_seconds: 7,
            registered_colonies: 1,
        }))
    }
}

fn service() -> ConnectService {
    ConnectRouter::new()
        .body_limit(64)
        .grpc(DiscoveryServiceServer::new(Fake))
        .unary(HEALTH, |request| async move { Fake.health(request).await })
        .unary(LOOKUP, |request| async move {
            Fake.lookup_colony(request).await
        })
        .into_service()
}

async fn call(request: Request<Body>) -> (StatusCode, Value) {
    let response = service().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body)
}

fn post(path: &str, content_type: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", content_type)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn post_json_returns_proto3_json() {
    let (status, body) = call(post(HEALTH, "application/json", "{}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"status":"ok","version":"test","uptimeSeconds":"7","registeredColonies":1})
    );
}

#[tokio::test]
async fn get_without_message_is_the_empty_request() {
    let request = Request::get(HEALTH).body(Body::empty()).unwrap();
    let (status, body) = call(request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn get_with_message_query_decodes_it() {
    let request = Request::get(format!(
        "{LOOKUP}?encoding=json&message=%7B%22meshId%22%3A%22abc%22%7D"
    ))
    .body(Body::empty())
    .unwrap();
    let (status, body) = call(request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"code":"not_found","message":"colony not found: abc"})
    );
}

#[tokio::test]
async fn status_maps_to_connect_error() {
    let (status, body) = call(post(LOOKUP, "application/json", r#"{"mesh_id":"x"}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"code":"not_found","message":"colony not found: x"})
    );
}

#[tokio::test]
async fn unsupported_content_type_is_415_and_names_accepted_types() {
    let (status, body) = call(post(HEALTH, "text/plain", "{}")).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["code"], "invalid_argument");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("application/json")
    );
}

#[tokio::test]
async fn oversized_body_is_413_without_reading_it_all() {
    let big = format!("{{\"meshId\":\"{}\"}}", "a".repeat(100));
    let (status, body) = call(post(LOOKUP, "application/json", &big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["message"].as_str().unwrap().contains("64 bytes"));
}

#[tokio::test]
async fn malformed_and_mistyped_json_are_invalid_argument() {
    for raw in ["{", r#"{"meshId": 5}"#, "[]"] {
        let (status, body) = call(post(LOOKUP, "application/json", raw)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}");
        assert_eq!(body["code"], "invalid_argument", "{raw}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid JSON request")
        );
    }
}

#[tokio::test]
async fn other_methods_are_405_and_unknown_paths_404() {
    let request = Request::put(HEALTH).body(Body::empty()).unwrap();
    let (status, _) = call(request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, body) = call(post("/nope", "application/json", "{}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "unimplemented");
}

#[tokio::test]
async fn grpc_content_type_reaches_tonic() {
    // An empty gRPC frame (flag 0, length 0) encodes the empty HealthRequest.
    let request = Request::post(HEALTH)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Body::from(vec![0u8, 0, 0, 0, 0]))
        .unwrap();
    let response = service().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    assert_eq!(trailers["grpc-status"], "0");
}
