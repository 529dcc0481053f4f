//! The probe and metrics routes. They reveal no resource data, so they
//! need no credential and can share a port with an API.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;

use crate::metrics::{MetricsSource, OPENMETRICS};
use crate::readiness::Readiness;

/// Liveness: 200 while the process serves HTTP at all.
pub const HEALTHZ: &str = "/healthz";
/// Readiness: 200 when ready, 503 otherwise.
pub const READYZ: &str = "/readyz";
/// OpenMetrics text.
pub const METRICS: &str = "/metrics";

/// The texts the probes answer with. Probes, scripts and tests compare
/// them, so each binary keeps the ones it has always answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeBodies {
    pub alive: &'static str,
    pub ready: &'static str,
    pub not_ready: &'static str,
}

impl ProbeBodies {
    /// Servers that are ready once they listen and stop being ready when
    /// shutdown starts, so load balancers drain them first.
    pub const UNTIL_SHUTDOWN: Self = Self::lines("shutting down\n");

    /// One line each, so `curl` ends its output with a newline; `not_ready`
    /// says why (also a whole line).
    pub const fn lines(not_ready: &'static str) -> Self {
        Self {
            alive: "ok\n",
            ready: "ready\n",
            not_ready,
        }
    }
}

/// `/healthz`, `/readyz` and `/metrics` of one binary.
#[derive(Clone)]
pub struct Probes {
    bodies: ProbeBodies,
    readiness: Readiness,
    metrics: MetricsSource,
}

impl Probes {
    pub fn new(
        bodies: ProbeBodies,
        readiness: impl Into<Readiness>,
        metrics: MetricsSource,
    ) -> Self {
        Self {
            bodies,
            readiness: readiness.into(),
            metrics,
        }
    }

    /// The three routes, to merge into a server's router or to [`crate::serve`].
    pub fn router(self) -> Router {
        let Self {
            bodies,
            readiness,
            metrics,
        } = self;
        Router::new()
            .route(HEALTHZ, get(move || async move { bodies.alive }))
            .route(
                READYZ,
                get(move || {
                    let ready = readiness.is_ready();
                    async move {
                        if ready {
                            (StatusCode::OK, bodies.ready)
                        } else {
                            (StatusCode::SERVICE_UNAVAILABLE, bodies.not_ready)
                        }
                    }
                }),
            )
            .route(
                METRICS,
                get(move || {
                    let text = metrics.render();
                    async move { ([(header::CONTENT_TYPE, OPENMETRICS)], text) }
                }),
            )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    const BODIES: ProbeBodies = ProbeBodies {
        alive: "alive",
        ready: "yes",
        not_ready: "no",
    };

    async fn get_text(router: &Router, path: &str) -> (StatusCode, Option<String>, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    fn probes(ready: &Arc<AtomicBool>) -> Router {
        Probes::new(
            BODIES,
            ready.clone(),
            MetricsSource::from_fn(|| "# EOF\n".to_owned()),
        )
        .router()
    }

    #[tokio::test]
    async fn liveness_answers_the_binarys_text() {
        let router = probes(&Arc::new(AtomicBool::new(false)));
        let (status, _, body) = get_text(&router, HEALTHZ).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alive"));
    }

    #[tokio::test]
    async fn readiness_follows_the_flag_on_every_probe() {
        let ready = Arc::new(AtomicBool::new(false));
        let router = probes(&ready);
        let (status, _, body) = get_text(&router, READYZ).await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "no")
        );
        ready.store(true, Ordering::Relaxed);
        let (status, _, body) = get_text(&router, READYZ).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "yes"));
    }

    #[tokio::test]
    async fn metrics_are_openmetrics_rendered_per_scrape() {
        let router = probes(&Arc::new(AtomicBool::new(true)));
        let (status, content_type, body) = get_text(&router, METRICS).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type.as_deref(), Some(OPENMETRICS));
        assert_eq!(body, "# EOF\n");
    }

    #[test]
    fn line_bodies_end_in_a_newline() {
        assert_eq!(
            ProbeBodies::UNTIL_SHUTDOWN,
            ProbeBodies {
                alive: "ok\n",
                ready: "ready\n",
                not_ready: "shutting down\n",
            }
        );
    }
}
