//! The operational endpoints every Coral server exposes beside its APIs:
//! `/healthz`, `/readyz` (503 once shutdown starts, so load balancers drain
//! us first) and `/metrics` in OpenMetrics text.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{StatusCode, header};
use axum::routing::get;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Probe and metrics routes, to merge with [`crate::ConnectRouter::routes`].
/// `render_metrics` is called per scrape.
pub fn operations_routes(
    ready: Arc<AtomicBool>,
    render_metrics: impl Fn() -> String + Clone + Send + Sync + 'static,
) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.load(Ordering::Relaxed);
                async move {
                    if ready {
                        (StatusCode::OK, "ready\n")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let text = render_metrics();
                async move { ([(header::CONTENT_TYPE, OPENMETRICS)], text) }
            }),
        )
}

/// `:8080` when listening on every address (the short form the start lines
/// in the READMEs show), else the full address.
pub fn display_listen_addr(local: SocketAddr) -> String {
    if local.ip().is_unspecified() {
        format!(":{}", local.port())
    } else {
        local.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_address_is_short_for_every_address() {
        assert_eq!(
            display_listen_addr("0.0.0.0:8080".parse().unwrap()),
            ":8080"
        );
        assert_eq!(display_listen_addr("[::]:9000".parse().unwrap()), ":9000");
        assert_eq!(
            display_listen_addr("127.0.0.1:9000".parse().unwrap()),
            "127.0.0.1:9000"
        );
    }
}
