//! A scripted fake apiserver for reconcile unit tests. The test Context's
//! kube `Client` sends every request to a `tower_test` mock service; a
//! script takes them one by one, asserts the method, path, query and body
//! it expects and answers with a canned response. A request the script does
//! not expect fails the test, so each test pins down exactly which reads
//! and writes a reconcile decision makes, and which it does not.

use std::future::Future;
use std::panic::resume_unwind;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde::Serialize;
use serde_json::{Value, json};
use tower_test::mock::{self, Handle, SendResponse};

use crate::context::{Context, OperatorConfig};
use crate::metrics::Metrics;

/// How long a script waits for the next request and a test for the
/// reconcile: a wrong guess fails the test instead of hanging it.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A Context whose client talks to the returned verifier only.
pub fn context(config: OperatorConfig) -> (Arc<Context>, ApiServerVerifier) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let ctx = Context::new(client, config, Arc::new(Metrics::default()));
    (Arc::new(ctx), ApiServerVerifier { handle })
}

/// Runs `reconcile` against `script` and returns what the reconcile
/// returned. Fails when the script panics (a request was not the expected
/// one), when a scripted request never comes, or when the reconcile makes
/// a request after the script is done.
pub async fn verify<T: Send + 'static>(
    reconcile: impl Future<Output = T> + Send + 'static,
    script: impl Future<Output = ApiServerVerifier> + Send + 'static,
) -> T {
    let reconcile = tokio::spawn(reconcile);
    let mut api = match tokio::spawn(script).await {
        Ok(api) => api,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => resume_unwind(panic),
            Err(error) => panic!("the script was cancelled: {error}"),
        },
    };
    tokio::select! {
        result = tokio::time::timeout(TIMEOUT, reconcile) => {
            match result.expect("the reconcile did not finish after the scripted requests") {
                Ok(value) => value,
                Err(error) => resume_unwind(error.into_panic()),
            }
        }
        Some((request, _)) = api.handle.next_request() => panic!(
            "request after the scripted ones: {} {}",
            request.method(),
            request.uri()
        ),
    }
}

/// The test's side of the mock service.
pub struct ApiServerVerifier {
    handle: Handle<Request<Body>, Response<Body>>,
}

impl ApiServerVerifier {
    /// Takes the next request, asserts its method and URI (path and query
    /// as kube sends them) and returns its JSON body (`Null` when empty)
    /// and the means to answer it.
    pub async fn expect(
        &mut self,
        method: Method,
        uri: &str,
    ) -> (Value, SendResponse<Response<Body>>) {
        let next = tokio::time::timeout(TIMEOUT, self.handle.next_request())
            .await
            .unwrap_or_else(|_| panic!("no request within {TIMEOUT:?}; expected {method} {uri}"));
        let (request, send) = next.unwrap_or_else(|| {
            panic!("the reconcile finished (its client is gone); expected {method} {uri}")
        });
        assert_eq!(
            (request.method().clone(), request.uri().to_string()),
            (method, uri.to_string()),
            "unexpected request"
        );
        let bytes = request
            .into_body()
            .collect_bytes()
            .await
            .expect("request body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("request body is JSON")
        };
        (body, send)
    }

    /// Expects a request and answers 200 with `reply`; returns the request body.
    pub async fn ok(&mut self, method: Method, uri: &str, reply: &impl Serialize) -> Value {
        let (body, send) = self.expect(method, uri).await;
        send.send_response(json_response(StatusCode::OK, reply));
        body
    }

    /// Expects a request and answers with the `Status` the apiserver sends
    /// for a failure; returns the request body.
    pub async fn fail(
        &mut self,
        method: Method,
        uri: &str,
        code: StatusCode,
        reason: &str,
        message: &str,
    ) -> Value {
        let (body, send) = self.expect(method, uri).await;
        let status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code.as_u16(),
        });
        send.send_response(json_response(code, &status));
        body
    }

    /// Expects a GET of an object that does not exist.
    pub async fn not_found(&mut self, uri: &str) {
        self.fail(
            Method::GET,
            uri,
            StatusCode::NOT_FOUND,
            "NotFound",
            "not found",
        )
        .await;
    }

    /// Expects a request and answers 200 with what `reply` makes of its
    /// body; returns the request body.
    pub async fn reply_with(
        &mut self,
        method: Method,
        uri: &str,
        reply: impl FnOnce(&Value) -> Value,
    ) -> Value {
        let (body, send) = self.expect(method, uri).await;
        send.send_response(json_response(StatusCode::OK, &reply(&body)));
        body
    }

    /// Expects a request and answers 200 with its own body, as the
    /// apiserver answers an apply or a create; returns that body.
    pub async fn echo(&mut self, method: Method, uri: &str) -> Value {
        self.reply_with(method, uri, Value::clone).await
    }

    /// Expects a new Event in `namespace` and returns it.
    pub async fn event(&mut self, namespace: &str) -> Value {
        self.echo(
            Method::POST,
            &format!("/apis/events.k8s.io/v1/namespaces/{namespace}/events?"),
        )
        .await
    }
}

fn json_response(code: StatusCode, body: &impl Serialize) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::to_vec(body).expect("reply serializes"),
        ))
        .expect("response")
}
