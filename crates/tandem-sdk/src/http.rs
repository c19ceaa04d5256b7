//! Small HTTP helpers every adapter's routes share.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Largest body of a desk's agent-action request (webhook desk events, Chatwoot and
/// Slack webhooks, Teams desk activities): agent actions are small JSON documents.
/// Larger requests are answered 413 before the body is read.
pub const DESK_EVENT_MAX_BODY: usize = 256 * 1024;

/// The layer that enforces a route's body limit (`413 Payload Too Large`) before the body
/// is buffered; smaller than the server-wide `[server] max_body_bytes`.
pub fn body_limit(bytes: usize) -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(bytes)
}

/// Reads a whole request body, bounded by the limit the server put on the route (see
/// `tandem_server::app::BodyLimits`): `413` when the body went over it, `400` when the
/// client stopped sending it. For a handler that checks who is calling before it reads
/// a large body (an upload), instead of a `Bytes` extractor that reads first.
pub async fn read_body(body: axum::body::Body) -> Result<axum::body::Bytes, StatusCode> {
    axum::body::to_bytes(body, usize::MAX).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if err.is::<http_body_util::LengthLimitError>() {
                return StatusCode::PAYLOAD_TOO_LARGE;
            }
            source = err.source();
        }
        StatusCode::BAD_REQUEST
    })
}

/// Initial read buffer of a WebSocket (it grows for a large frame and shrinks back):
/// idle sockets are what web chat and the console mostly hold, so they must be cheap
/// (axum's default is 128 KiB per socket).
pub const WS_READ_BUFFER_BYTES: usize = 4 * 1024;
/// Outgoing bytes a WebSocket buffers before a write goes to the socket.
pub const WS_WRITE_BUFFER_BYTES: usize = 4 * 1024;
/// Outgoing bytes a WebSocket may hold unsent (a client that does not read): past it
/// sends fail and the connection ends.
pub const WS_MAX_WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// A WebSocket upgrade with small buffers (see [`WS_READ_BUFFER_BYTES`]) and frames and
/// messages limited to `max_frame_bytes` (larger ones end the connection, unread).
pub fn small_websocket(
    ws: axum::extract::ws::WebSocketUpgrade,
    max_frame_bytes: usize,
) -> axum::extract::ws::WebSocketUpgrade {
    ws.read_buffer_size(WS_READ_BUFFER_BYTES)
        .write_buffer_size(WS_WRITE_BUFFER_BYTES)
        .max_write_buffer_size(WS_MAX_WRITE_BUFFER_BYTES)
        .max_message_size(max_frame_bytes)
        .max_frame_size(max_frame_bytes)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn limited(bytes: &'static [u8], limit: usize) -> axum::body::Body {
        axum::body::Body::new(http_body_util::Limited::new(
            axum::body::Body::from(bytes),
            limit,
        ))
    }

    #[tokio::test]
    async fn a_body_over_the_route_limit_is_413_and_within_it_is_read() {
        assert_eq!(
            read_body(limited(b"12345", 3)).await,
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        );
        assert_eq!(
            read_body(limited(b"123", 3)).await.as_deref(),
            Ok(&b"123"[..])
        );
    }
}
