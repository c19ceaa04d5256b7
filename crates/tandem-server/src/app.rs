//! The HTTP app: health, readiness, metrics, plus every adapter's routes.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tandem_core::Core;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;

/// Builds the app from the core and the adapters' routes. Takes no listener, so tests
/// can drive it with `oneshot`.
pub fn app(core: Core, adapter_routes: Vec<Router>, max_body_bytes: usize) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(core);
    for routes in adapter_routes {
        router = router.merge(routes);
    }
    router
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
        // A bug in a handler answers 500 instead of killing the connection or the process.
        .layer(CatchPanicLayer::new())
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(core): State<Core>) -> Response {
    match core.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response(),
    }
}

/// Classic Prometheus text unless the scraper asks for OpenMetrics in `Accept`.
async fn metrics(State(core): State<Core>, headers: axum::http::HeaderMap) -> Response {
    if let Ok(depth) = core.store().outbox_depth().await {
        core.metrics().set_outbox_depth(depth);
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
