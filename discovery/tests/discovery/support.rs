//! Start the binary, find its port from the start log, and talk to it.

use std::net::SocketAddr;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use coral_e2e::ServerProcess;
use coral_proto::discovery::v1::discovery_service_client::DiscoveryServiceClient;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tonic::transport::Channel;

pub const SERVICE: &str = "/coral.discovery.v1.DiscoveryService";

/// A running `coral-discovery`; killed when dropped.
pub struct Server {
    process: ServerProcess,
    pub addr: SocketAddr,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl Server {
    pub fn start(extra_args: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_coral-discovery"));
        command
            .args(["--port", "0", "--bind", "127.0.0.1", "--log-format", "json"])
            .args(["--log-level", "debug"])
            .args(extra_args);
        let mut process = ServerProcess::spawn(command, "Discovery service listening");
        let addr = process.listening_addr();
        let http = Client::builder(TokioExecutor::new()).build_http();
        Server {
            process,
            addr,
            http,
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.process.logs()
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Wait (bounded) for the process to exit on its own.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        self.process.wait_exit(within)
    }

    pub async fn grpc(&self) -> DiscoveryServiceClient<Channel> {
        DiscoveryServiceClient::connect(format!("http://{}", self.addr))
            .await
            .expect("gRPC connect")
    }

    /// A raw HTTP/1.1 request; returns status and body bytes.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> (StatusCode, Bytes) {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Full::new(body.into())).unwrap();
        let response = self.http.request(request).await.expect("HTTP request");
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, body)
    }

    /// `curl -X POST <url>/<Method> -H 'Content-Type: application/json' -d <body>`.
    pub async fn post(&self, method: &str, body: &Value) -> (StatusCode, Value) {
        let (status, bytes) = self
            .raw(
                Method::POST,
                &format!("{SERVICE}/{method}"),
                Some("application/json"),
                serde_json::to_vec(body).unwrap(),
            )
            .await;
        (status, json_of(&bytes))
    }

    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let (status, bytes) = self.raw(Method::GET, path, None, Bytes::new()).await;
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    pub async fn registered_colonies(&self) -> i64 {
        let (_, health) = self.post("Health", &json!({})).await;
        // proto3 JSON omits zero values.
        health["registeredColonies"].as_i64().unwrap_or(0)
    }
}

pub fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(bytes)))
}

/// A distinct valid WireGuard-shaped key per fill byte.
pub fn key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

/// A typical registration body, in snake_case as users type it into curl.
pub fn colony(mesh_id: &str, pubkey: &str) -> Value {
    json!({
        "mesh_id": mesh_id,
        "pubkey": pubkey,
        "endpoints": [":41581"],
        "mesh_ipv4": "10.42.0.1",
        "mesh_ipv6": "fd42::1",
        "connect_port": 9000,
        "metadata": {"application": "my-app", "environment": "dev"},
    })
}
