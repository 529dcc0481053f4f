//! Connect protocol errors: tonic status codes mapped to Connect code names
//! and HTTP statuses, rendered as `{"code":"…","message":"…"}`.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use tonic::{Code, Status};

/// The Connect (and gRPC) code name in snake_case, as Connect clients expect.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status the Connect protocol specifies for each code.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        // 499 is the de-facto "client closed request" status Connect uses.
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A Connect error response: a code, a human message, and the HTTP status
/// (normally derived from the code; protocol errors such as 413/415 override it).
#[derive(Debug, Clone)]
pub struct ConnectError {
    pub code: Code,
    pub message: String,
    pub http_status: StatusCode,
}

impl ConnectError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ConnectError {
            code,
            message: message.into(),
            http_status: http_status(code),
        }
    }

    pub fn with_http_status(mut self, status: StatusCode) -> Self {
        self.http_status = status;
        self
    }

    /// The JSON body: `{"code":"not_found","message":"colony not found: x"}`.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "code": code_name(self.code),
            "message": self.message,
        }))
        // Serializing two strings cannot fail; keep a valid body regardless.
        .unwrap_or_else(|_| br#"{"code":"internal"}"#.to_vec())
    }
}

impl From<&Status> for ConnectError {
    fn from(status: &Status) -> Self {
        ConnectError::new(status.code(), status.message())
    }
}

impl From<Status> for ConnectError {
    fn from(status: Status) -> Self {
        ConnectError::from(&status)
    }
}

impl IntoResponse for ConnectError {
    fn into_response(self) -> Response {
        let mut response = (self.http_status, self.body()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_codes_to_connect_http_statuses() {
        let cases = [
            (Code::NotFound, 404, "not_found"),
            (Code::InvalidArgument, 400, "invalid_argument"),
            (Code::AlreadyExists, 409, "already_exists"),
            (Code::Unauthenticated, 401, "unauthenticated"),
            (Code::PermissionDenied, 403, "permission_denied"),
            (Code::ResourceExhausted, 429, "resource_exhausted"),
            (Code::Unavailable, 503, "unavailable"),
            (Code::Unimplemented, 501, "unimplemented"),
            (Code::Internal, 500, "internal"),
            (Code::Cancelled, 499, "canceled"),
        ];
        for (code, status, name) in cases {
            assert_eq!(http_status(code).as_u16(), status, "{code:?}");
            assert_eq!(code_name(code), name);
        }
    }

    #[test]
    fn renders_connect_error_body() {
        let error = ConnectError::from(Status::not_found("colony not found: x"));
        let body: serde_json::Value = serde_json::from_slice(&error.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code": "not_found", "message": "colony not found: x"})
        );
        assert_eq!(error.http_status, StatusCode::NOT_FOUND);
    }
}
