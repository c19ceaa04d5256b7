//! Local fakes of the platforms Tandem talks to: real HTTP servers on `127.0.0.1`, so
//! adapters and the real binary talk to them over real sockets.
//!
//! Every fake records each request ([`Recorded`]) and answers sends from a script of
//! [`Reply`]s (first in, first out; an empty script answers success), in the platform's
//! own wire format (see `docs/platform-contracts.md`): [`WhatsAppFake`] (Graph
//! `/{version}/{phone_number_id}/messages`, media), [`MessengerFake`] (Send API),
//! [`TelegramFake`] (Bot API: `getMe`, `getUpdates`, `setWebhook`, `deleteWebhook`,
//! `getWebhookInfo`, `sendMessage`, `answerCallbackQuery`), [`TeamsFake`] (Bot Framework:
//! OpenID metadata and keys, token endpoint, Bot Connector; [`mint`] signs inbound
//! tokens, valid or forged) and [`EndpointFake`] (any
//! JSON endpoint answering with plain HTTP statuses, e.g. Tandem's generic webhook
//! channel).

mod endpoint;
mod messenger;
mod teams;
mod telegram;
mod whatsapp;

pub use endpoint::EndpointFake;
pub use messenger::MessengerFake;
pub use teams::{
    TEAMS_ISSUER, TEAMS_KID, TEAMS_SCOPE, TEAMS_TENANT, TEAMS_UNENDORSED_KID, TeamsFake, TeamsUser,
    TokenKind, decode_segment, mint,
};
pub use telegram::TelegramFake;
pub use whatsapp::WhatsAppFake;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How a fake answers the next send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Success, with a fresh platform message id.
    Ok,
    /// Rate limited: HTTP 429 with the platform's retry hint (`Retry-After`, Telegram's
    /// `parameters.retry_after`) and its rate-limit error code (WhatsApp 130429,
    /// Messenger 613).
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// Bad credentials: HTTP 401 (Graph code 190, Telegram "Unauthorized").
    Unauthorized,
    /// A server error: HTTP 500 (note: teloxide sleeps 10 s on any 5xx).
    ServerError,
    /// The messaging window is closed, answered synchronously (WhatsApp 131047,
    /// Messenger 10/2018278).
    WindowClosed,
    /// The recipient blocked the bot or cannot be reached (Telegram 403 "bot was
    /// blocked by the user", Messenger 551/1545041, WhatsApp 131026).
    Blocked,
    /// WhatsApp only: accepted (200 with a wamid), then a `failed` status webhook with
    /// this error code is posted to the gateway (131047 usually arrives this way).
    AcceptThenFail {
        /// The Graph error code of the status webhook.
        code: u64,
    },
    /// A Graph-style error (WhatsApp, Messenger) with any HTTP status and code.
    GraphError {
        /// HTTP status.
        status: u16,
        /// `error.code`.
        code: u64,
        /// `error.error_subcode`, if any.
        subcode: Option<u64>,
    },
}

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: Method,
    /// Path, e.g. `/v21.0/109876543210987/messages`.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Request headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Bytes,
    /// When it arrived.
    pub at: Instant,
    /// The HTTP status the fake answered.
    pub status: u16,
}

impl Recorded {
    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter (not percent-decoded beyond `+`).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.replace('+', " "))
        })
    }

    /// Whether the fake answered 2xx.
    pub fn succeeded(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// The shared recording and script of one fake.
#[derive(Debug, Default)]
pub(crate) struct Core {
    requests: Mutex<Vec<Recorded>>,
    script: Mutex<VecDeque<Reply>>,
    counter: AtomicU64,
}

impl Core {
    pub(crate) fn record(&self, r: Recorded) {
        self.requests.lock().expect("fake lock").push(r);
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("fake lock").clone()
    }

    pub(crate) fn push(&self, reply: Reply) {
        self.script.lock().expect("fake lock").push_back(reply);
    }

    pub(crate) fn next_reply(&self) -> Reply {
        self.script
            .lock()
            .expect("fake lock")
            .pop_front()
            .unwrap_or(Reply::Ok)
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// A request as the fakes' handlers see it.
pub(crate) struct Incoming {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) at: Instant,
}

impl Incoming {
    pub(crate) fn recorded(self, status: u16) -> Recorded {
        Recorded {
            method: self.method,
            path: self.uri.path().to_owned(),
            query: self.uri.query().map(str::to_owned),
            headers: self.headers,
            body: self.body,
            at: self.at,
            status,
        }
    }

    pub(crate) fn bearer(&self) -> Option<&str> {
        self.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A running server; stops when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `app` on a free loopback port.
pub(crate) async fn serve(app: Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a loopback port for a fake");
    let addr = listener.local_addr().expect("fake has an address");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server {
        base: format!("http://{addr}"),
        task,
    }
}

/// Collects the request into an [`Incoming`] (axum extractor glue).
pub(crate) async fn incoming(req: axum::extract::Request) -> Incoming {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    Incoming {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body,
        at: Instant::now(),
    }
}

/// A JSON answer with a status and extra headers.
pub(crate) fn answer(
    status: u16,
    body: serde_json::Value,
    headers: &[(&'static str, String)],
) -> axum::response::Response {
    let mut response = axum::response::Response::new(axum::body::Body::from(body.to_string()));
    *response.status_mut() =
        axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    let h = response.headers_mut();
    h.insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        if let Ok(v) = axum::http::HeaderValue::from_str(value) {
            h.insert(*name, v);
        }
    }
    response
}

/// A Graph API error body (WhatsApp, Messenger).
pub(crate) fn graph_error(code: u64, subcode: Option<u64>, message: &str) -> serde_json::Value {
    let mut error = serde_json::json!({
        "message": format!("(#{code}) {message}"),
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": message},
        "fbtrace_id": "FakeTrace000001",
    });
    if let Some(sub) = subcode {
        error["error_subcode"] = serde_json::json!(sub);
    }
    serde_json::json!({ "error": error })
}

/// Polls `f` every 20 ms until it returns `Some`, or panics after `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() <= deadline,
            "timed out after {secs}s waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Shared handle type of the fakes' state.
pub(crate) type Shared<T> = Arc<T>;
