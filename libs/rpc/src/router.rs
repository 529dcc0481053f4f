//! Builder that collects gRPC services, Connect-JSON unary procedures and
//! extra HTTP routes, and turns them into one [`ConnectService`].

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::Code;
use tonic::server::NamedService;
use tonic::service::Routes;
use tower::Service;

use crate::dispatch::ConnectService;
use crate::error::ConnectError;
use crate::rejection::{Rejection, RejectionObserver};
use crate::unary::{UnaryConfig, serve_unary};

/// Largest request body accepted unless [`ConnectRouter::body_limit`] says otherwise.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

type UnaryRouteFactory = Box<dyn FnOnce(UnaryConfig) -> MethodRouter + Send>;

/// Collects everything one port serves.
///
/// ```ignore
/// let service = ConnectRouter::new()
///     .grpc(DiscoveryServiceServer::new(svc.clone()))
///     .unary("/coral.discovery.v1.DiscoveryService/Health", move |req| {
///         let svc = svc.clone();
///         async move { svc.health(req).await }
///     })
///     .routes(axum::Router::new().route("/healthz", get(|| async { "ok" })))
///     .into_service();
/// ```
pub struct ConnectRouter {
    grpc: Routes,
    unary: Vec<(String, UnaryRouteFactory)>,
    extra: axum::Router,
    body_limit: usize,
    observer: Option<RejectionObserver>,
}

impl Default for ConnectRouter {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectRouter {
    pub fn new() -> Self {
        ConnectRouter {
            grpc: Routes::default(),
            unary: Vec::new(),
            extra: axum::Router::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            observer: None,
        }
    }

    /// Largest Connect-JSON request body, in bytes. (Limit gRPC messages on
    /// the tonic server itself with `max_decoding_message_size`.)
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Called for every request refused by the protocol layer.
    pub fn on_rejection(mut self, observer: impl Fn(Rejection) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Serve a tonic service (or reflection) to `application/grpc` requests.
    pub fn grpc<S>(mut self, service: S) -> Self
    where
        S: Service<http::Request<tonic::body::Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        self.grpc = self.grpc.add_service(service);
        self
    }

    /// Serve `path` (`/package.Service/Method`) as a Connect-JSON unary
    /// procedure. `handler` usually calls the tonic trait method so both
    /// protocols run the same code.
    ///
    /// Panics if `path` does not start with `/` or is registered twice
    /// (a programming error, caught at startup).
    pub fn unary<Req, Resp, F, Fut>(mut self, path: &str, handler: F) -> Self
    where
        Req: DeserializeOwned + Send + 'static,
        Resp: Serialize + Send + 'static,
        F: Fn(tonic::Request<Req>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>> + Send + 'static,
    {
        let factory: UnaryRouteFactory = Box::new(move |config: UnaryConfig| {
            let config = Arc::new(config);
            on(
                MethodFilter::GET.or(MethodFilter::POST),
                move |request: Request| {
                    let config = config.clone();
                    let handler = handler.clone();
                    async move { serve_unary(&config, &handler, request).await }
                },
            )
        });
        self.unary.push((path.to_owned(), factory));
        self
    }

    /// Merge plain HTTP routes (probes, metrics) served to non-gRPC requests.
    pub fn routes(mut self, router: axum::Router) -> Self {
        self.extra = self.extra.merge(router);
        self
    }

    pub fn into_service(self) -> ConnectService {
        let config = UnaryConfig {
            body_limit: self.body_limit,
            observer: self.observer,
        };
        let mut http = self.extra;
        for (path, factory) in self.unary {
            let method_router = factory(config.clone()).fallback(method_not_allowed);
            http = http.route(&path, method_router);
        }
        let http = http.fallback(no_route);
        ConnectService::new(self.grpc.prepare().into_axum_router(), http)
    }
}

async fn method_not_allowed(request: Request) -> Response {
    ConnectError::new(
        Code::Unimplemented,
        format!("method {} not allowed; use POST (or GET)", request.method()),
    )
    .with_http_status(http::StatusCode::METHOD_NOT_ALLOWED)
    .into_response()
}

async fn no_route(request: Request) -> Response {
    ConnectError::new(
        Code::Unimplemented,
        format!("no procedure or route at {}", request.uri().path()),
    )
    .with_http_status(http::StatusCode::NOT_FOUND)
    .into_response()
}
