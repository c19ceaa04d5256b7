//! Small HTTP helpers every adapter's routes share.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answer: `status` with `{"error": code, "message": message}`. The message must
/// name no user data (it goes back to the platform, and may be logged there).
pub fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({"error": code, "message": message})),
    )
        .into_response()
}

/// The `Retry-After` header of a platform's answer, in seconds (the HTTP-date form is
/// not used by the platforms Tandem calls). `None` when absent or unreadable.
pub fn retry_after(headers: &axum::http::HeaderMap) -> Option<std::time::Duration> {
    headers
        .get(axum::http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(std::time::Duration::from_secs)
}
