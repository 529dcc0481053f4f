//! One Connect-JSON unary call: decode the request (bounded), call the
//! handler with a `tonic::Request`, encode the response or a Connect error.

use std::future::Future;

use axum::extract::{Query, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use bytes::BytesMut;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::Code;
use tonic::metadata::MetadataMap;

use crate::error::ConnectError;
use crate::rejection::{Rejection, RejectionObserver};

/// Settings shared by every unary route of one router.
#[derive(Clone)]
pub(crate) struct UnaryConfig {
    pub body_limit: usize,
    pub observer: Option<RejectionObserver>,
}

impl UnaryConfig {
    fn reject(&self, rejection: Rejection, error: ConnectError) -> ConnectError {
        if let Some(observer) = &self.observer {
            observer(rejection);
        }
        error
    }
}

/// How much of a refused body we read (and drop) before answering anyway.
const DISCARD_LIMIT: usize = 16 * 1024 * 1024;
const DISCARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

const ACCEPTED_TYPES: &str =
    "application/json (Connect), application/grpc or application/grpc+proto (gRPC)";

/// Query of a Connect GET request: `?message=<json>&encoding=json`.
#[derive(serde::Deserialize, Default)]
struct GetQuery {
    message: Option<String>,
    encoding: Option<String>,
    base64: Option<String>,
}

/// Serve one unary call. `handler` is typically a closure that calls the
/// tonic service trait method, so both protocols share one implementation.
pub(crate) async fn serve_unary<Req, Resp, F, Fut>(
    config: &UnaryConfig,
    handler: &F,
    request: Request,
) -> Response
where
    Req: DeserializeOwned,
    Resp: Serialize,
    F: Fn(tonic::Request<Req>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
{
    let (parts, body) = request.into_parts();
    let raw = match parts.method {
        Method::POST => match read_post_body(config, &parts.headers, body).await {
            Ok(raw) => raw,
            Err(error) => return error.into_response(),
        },
        Method::GET => match get_message(config, &parts.uri) {
            Ok(raw) => raw,
            Err(error) => return error.into_response(),
        },
        _ => {
            return config
                .reject(
                    Rejection::MethodNotAllowed,
                    ConnectError::new(
                        Code::Unimplemented,
                        format!("method {} not allowed; use POST (or GET)", parts.method),
                    )
                    .with_http_status(StatusCode::METHOD_NOT_ALLOWED),
                )
                .into_response();
        }
    };
    // An empty body is the empty message, as `curl -X POST` without `-d` sends.
    let raw: &[u8] = if raw.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &raw
    };
    let message: Req = match serde_json::from_slice(raw) {
        Ok(message) => message,
        Err(error) => {
            return config
                .reject(
                    Rejection::MalformedMessage,
                    ConnectError::new(
                        Code::InvalidArgument,
                        format!("invalid JSON request: {error}"),
                    ),
                )
                .into_response();
        }
    };
    let tonic_request = tonic::Request::from_parts(
        MetadataMap::from_headers(parts.headers),
        parts.extensions,
        message,
    );
    match handler(tonic_request).await {
        Ok(response) => json_response(response.get_ref()),
        Err(status) => ConnectError::from(status).into_response(),
    }
}

fn json_response<Resp: Serialize>(message: &Resp) -> Response {
    match serde_json::to_vec(message) {
        Ok(body) => {
            let mut response = (StatusCode::OK, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => ConnectError::new(
            Code::Internal,
            format!("failed to encode response as JSON: {error}"),
        )
        .into_response(),
    }
}

fn is_json(headers: &HeaderMap) -> Result<(), String> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err("missing content-type".to_owned());
    };
    let text = value.to_str().unwrap_or("<non-ascii>");
    let essence = text.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(format!("unsupported content-type {text:?}"))
    }
}

async fn read_post_body(
    config: &UnaryConfig,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Bytes, ConnectError> {
    if let Err(problem) = is_json(headers) {
        return Err(config.reject(
            Rejection::UnsupportedMediaType,
            ConnectError::new(
                Code::InvalidArgument,
                format!("{problem}; send one of: {ACCEPTED_TYPES}"),
            )
            .with_http_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ));
    }
    let too_large = || {
        config.reject(
            Rejection::BodyTooLarge,
            ConnectError::new(
                Code::InvalidArgument,
                format!(
                    "request body exceeds the limit of {} bytes; send a smaller message",
                    config.body_limit
                ),
            )
            .with_http_status(StatusCode::PAYLOAD_TOO_LARGE),
        )
    };
    // Refuse early on an honest Content-Length; the loop below guards the rest.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = body;
    if declared.is_some_and(|len| len > config.body_limit as u64) {
        discard(body).await;
        return Err(too_large());
    }
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            config.reject(
                Rejection::MalformedMessage,
                ConnectError::new(
                    Code::InvalidArgument,
                    format!("failed to read request body: {error}"),
                ),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > config.body_limit {
                discard(body).await;
                return Err(too_large());
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer.freeze())
}

/// Read and drop what is left of a refused body, up to a bound. A client
/// still sending when we answer would otherwise see a reset connection (the
/// kernel resets sockets closed with unread data) instead of our error.
async fn discard(mut body: axum::body::Body) {
    let drain = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |data| data.len());
            if seen > DISCARD_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_TIMEOUT, drain).await;
}

fn get_message(config: &UnaryConfig, uri: &http::Uri) -> Result<Bytes, ConnectError> {
    let query = if uri.query().is_some() {
        Query::<GetQuery>::try_from_uri(uri)
            .map(|q| q.0)
            .map_err(|error| {
                config.reject(
                    Rejection::MalformedMessage,
                    ConnectError::new(
                        Code::InvalidArgument,
                        format!("invalid query string: {error}"),
                    ),
                )
            })?
    } else {
        GetQuery::default()
    };
    if query.encoding.as_deref().is_some_and(|e| e != "json") || query.base64.is_some() {
        return Err(config.reject(
            Rejection::UnsupportedMediaType,
            ConnectError::new(
                Code::InvalidArgument,
                "GET supports only encoding=json without base64",
            )
            .with_http_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ));
    }
    let message = query.message.unwrap_or_default();
    if message.len() > config.body_limit {
        return Err(config.reject(
            Rejection::BodyTooLarge,
            ConnectError::new(
                Code::InvalidArgument,
                format!("message exceeds the limit of {} bytes", config.body_limit),
            )
            .with_http_status(StatusCode::PAYLOAD_TOO_LARGE),
        ));
    }
    Ok(Bytes::from(message))
}
