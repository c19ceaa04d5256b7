//! The HTTP app: health, readiness, metrics, plus every adapter's routes.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem_core::Core;
use tandem_sdk::telemetry::Throttle;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::warn;

/// Routes that take a file as their body (a web chat visitor's, a console agent's):
/// limited by `[media] max_bytes` instead of `[server] max_body_bytes`.
pub const UPLOAD_PATHS: &[&str] = &["/webchat/upload", "/console/api/upload"];

/// Request body limits: every route's, and the upload routes' ([`UPLOAD_PATHS`]).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// `[server] max_body_bytes`.
    pub default: usize,
    /// `[media] max_bytes`.
    pub uploads: usize,
}

impl BodyLimits {
    fn for_path(&self, path: &str) -> usize {
        if UPLOAD_PATHS.contains(&path) {
            self.uploads
        } else {
            self.default
        }
    }
}

/// Refuses a body over the route's limit: 413 at once when `Content-Length` says so,
/// else the body is cut off at the limit and the handler's extractor answers 413.
async fn limit_body(
    State(limits): State<BodyLimits>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = limits.for_path(request.uri().path());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::Body::new(http_body_util::Limited::new(body, limit));
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

/// Builds the app from the core and the adapters' routes. Takes no listener, so tests
/// can drive it with `oneshot`.
pub fn app(core: Core, adapter_routes: Vec<Router>, limits: BodyLimits) -> Router {
    let readiness = Arc::new(Readiness::new(core.clone()));
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(core)
        .merge(
            Router::new()
                .route("/readyz", get(readyz))
                .with_state(readiness),
        );
    for routes in adapter_routes {
        router = router.merge(routes);
    }
    router
        .fallback(not_found)
        // Extractors read up to the limit applied here, not axum's own 2 MiB default
        // (an adapter may still set a lower one on its routes).
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(limits, limit_body))
        // A bug in a handler answers 500 instead of killing the connection or the process.
        .layer(CatchPanicLayer::new())
}

async fn healthz() -> &'static str {
    "ok"
}

/// How long a readiness probe's result is reused: at most one probe write per second.
const PROBE_REUSE: Duration = Duration::from_secs(1);
/// Longest a probe write may take before the store counts as unable to write.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// `/readyz`: whether the store can durably write, found by a tiny real write (one
/// key-value row, rewritten) at most once per [`PROBE_REUSE`]; callers meanwhile get the
/// last answer.
struct Readiness {
    core: Core,
    last: tokio::sync::Mutex<Option<(Instant, bool)>>,
}

impl Readiness {
    fn new(core: Core) -> Self {
        Self {
            core,
            last: tokio::sync::Mutex::new(None),
        }
    }

    async fn ready(&self) -> bool {
        // Concurrent callers wait for the probe in flight instead of starting their own.
        let mut last = self.last.lock().await;
        if let Some((at, ready)) = *last
            && at.elapsed() < PROBE_REUSE
        {
            return ready;
        }
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
        let write = self.core.store().kv_put("tandem", "readyz", &stamp);
        let ready = match tokio::time::timeout(PROBE_TIMEOUT, write).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                warn_store_not_ready(&e.to_string());
                false
            }
            Err(_) => {
                warn_store_not_ready("the probe write timed out");
                false
            }
        };
        *last = Some((Instant::now(), ready));
        ready
    }
}

fn warn_store_not_ready(error: &str) {
    static NOT_READY: Throttle = Throttle::new(Duration::from_secs(10));
    if let Some(suppressed) = NOT_READY.check() {
        warn!(error, suppressed, "Not ready: the store cannot write.");
    }
}

async fn readyz(State(readiness): State<Arc<Readiness>>) -> Response {
    if readiness.ready().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store cannot write").into_response()
    }
}

/// Classic Prometheus text unless the scraper asks for OpenMetrics in `Accept`.
async fn metrics(State(core): State<Core>, headers: axum::http::HeaderMap) -> Response {
    // A store that stops answering must not stall the scrape: the gauge keeps its last value.
    if let Ok(Ok(depth)) = tokio::time::timeout(PROBE_TIMEOUT, core.store().outbox_depth()).await {
        core.metrics().set_outbox_depth(depth);
    }
    if let Some((allocated, resident)) = crate::memory::allocator_stats() {
        core.metrics().set_memory(allocated, resident);
    }
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    if openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            core.metrics().render(),
        )
            .into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            core.metrics().render_classic(),
        )
            .into_response()
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not_found"})),
    )
        .into_response()
}
