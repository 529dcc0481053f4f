//! Start the binary, find its port from the start log, and talk to it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
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
    child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl Server {
    pub fn start(extra_args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coral-discovery"))
            .args(["--port", "0", "--bind", "127.0.0.1", "--log-format", "json"])
            .args(["--log-level", "debug"])
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn coral-discovery");
        let stderr = child.stderr.take().expect("stderr piped");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (found_addr, addr_rx) = mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Record the line before announcing the address, so callers
                // that saw the address also see every line up to it.
                sink.lock().unwrap().push(line.clone());
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["message"] == "Discovery service listening"
                    && let Some(addr) = event["addr"].as_str()
                {
                    let _ = found_addr.send(addr.to_owned());
                }
            }
        });
        let addr = match addr_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => addr.parse().expect("listening addr"),
            Err(_) => {
                let _ = child.kill();
                panic!("server did not log its address: {:?}", logs.lock().unwrap());
            }
        };
        let http = Client::builder(TokioExecutor::new()).build_http();
        Server {
            child,
            addr,
            logs,
            http,
        }
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait (bounded) for the process to exit on its own.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
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

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(bytes)))
}

/// A distinct valid WireGuard-shaped key per seed byte.
pub fn key(seed: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([seed; 32])
}

/// The seed's registration body (snake_case input, as the seed's curl uses).
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
