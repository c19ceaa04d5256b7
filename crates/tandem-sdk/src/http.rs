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
