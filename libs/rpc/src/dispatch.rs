//! The one service a port runs: gRPC requests to tonic, everything else to
//! the Connect-JSON and plain HTTP routes.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::response::Response;
use axum::routing::future::RouteFuture;
use bytes::Bytes;
use http::{Request, header};
use tower::Service;

/// Dispatches on `content-type`: `application/grpc` and `application/grpc+…`
/// go to tonic; the rest to the HTTP router. Cheap to clone.
#[derive(Clone)]
pub struct ConnectService {
    grpc: axum::Router,
    http: axum::Router,
}

impl ConnectService {
    pub(crate) fn new(grpc: axum::Router, http: axum::Router) -> Self {
        ConnectService { grpc, http }
    }
}

fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value == "application/grpc"
                || value.starts_with("application/grpc+")
                || value.starts_with("application/grpc;")
        })
}

impl<B> Service<Request<B>> for ConnectService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = RouteFuture<Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Both routers are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let request = request.map(axum::body::Body::new);
        if is_grpc(&request) {
            self.grpc.call(request)
        } else {
            self.http.call(request)
        }
    }
}
