//! A fake Telegram Bot API: `POST /bot<token>/<method>` (method names are
//! case-insensitive, as on the real API; teloxide sends `SendMessage`). Implements
//! `getMe`, `getWebhookInfo`, `setWebhook`, `deleteWebhook`, `getUpdates` (a queue of
//! pushed updates with offsets and long polling), `sendMessage` (answered from the
//! script with the exact error `description`s teloxide matches on), `sendPhoto` and
//! `sendDocument` (a URL or file id in `photo`/`document`, optional `caption`, answered
//! from the same script), `answerCallbackQuery`, `getFile` (a `file_path` under
//! `files/`) and the file download `GET /file/bot<token>/<file_path>` (the bytes
//! `FAKE-TG-FILE-<file_path>`, `image/jpeg` for `.jpg`).

use super::{Core, Incoming, Recorded, Reply, Server, Shared, answer, incoming};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// The longest a fake `getUpdates` long poll waits.
const MAX_LONG_POLL: Duration = Duration::from_secs(10);

/// A running fake Bot API.
#[derive(Debug)]
pub struct TelegramFake {
    server: Server,
    state: Shared<TgState>,
}

#[derive(Debug)]
struct TgState {
    core: Core,
    token: String,
    updates: Mutex<Vec<Value>>,
    arrived: Notify,
    webhook: Mutex<Option<(String, Option<String>)>>,
    /// `getUpdates` calls in flight, and how many started while another was.
    polls_in_flight: AtomicUsize,
    overlapping_polls: AtomicUsize,
}

/// Counts a `getUpdates` call in flight until dropped (also when its caller hangs up).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl TelegramFake {
    /// Starts a fake accepting `token`.
    pub async fn start(token: &str) -> Self {
        let state = Arc::new(TgState {
            core: Core::default(),
            token: token.to_owned(),
            updates: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            webhook: Mutex::new(None),
            polls_in_flight: AtomicUsize::new(0),
            overlapping_polls: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        Self {
            server: super::serve(app).await,
            state,
        }
    }

    /// The base URL, to configure as `api_base`.
    pub fn base_url(&self) -> &str {
        &self.server.base
    }

    /// Queues how the next `sendMessage` is answered.
    pub fn script(&self, reply: Reply) {
        self.state.core.push(reply);
    }

    /// Makes `update` available to `getUpdates` (kept until confirmed by an offset).
    pub fn push_update(&self, update: Value) {
        let mut updates = self.state.updates.lock().expect("fake lock");
        updates.push(update);
        updates.sort_by_key(update_id);
        drop(updates);
        self.state.arrived.notify_waiters();
    }

    /// How many `getUpdates` calls started while another was in flight (Telegram
    /// answers one of the two 409: only one poller per bot).
    pub fn overlapping_polls(&self) -> usize {
        self.state.overlapping_polls.load(Ordering::SeqCst)
    }

    /// Updates not yet confirmed by a `getUpdates` offset.
    pub fn unconfirmed(&self) -> usize {
        self.state.updates.lock().expect("fake lock").len()
    }

    /// The webhook URL and secret token set by `setWebhook`, if any.
    pub fn webhook(&self) -> Option<(String, Option<String>)> {
        self.state.webhook.lock().expect("fake lock").clone()
    }

    /// Every request received.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.core.requests()
    }

    /// Requests of one method (case-insensitive, e.g. `answerCallbackQuery`).
    pub fn calls(&self, method: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| method_of(&r.path).is_some_and(|m| m.eq_ignore_ascii_case(method)))
            .collect()
    }

    /// The `sendMessage` requests received.
    pub fn sends(&self) -> Vec<Recorded> {
        self.calls("sendMessage")
    }

    /// The `sendPhoto` and `sendDocument` requests received.
    pub fn media_sends(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| {
                method_of(&r.path).is_some_and(|m| {
                    m.eq_ignore_ascii_case("sendPhoto") || m.eq_ignore_ascii_case("sendDocument")
                })
            })
            .collect()
    }

    /// The `sendMessage` requests answered with success.
    pub fn delivered(&self) -> Vec<Recorded> {
        self.sends()
            .into_iter()
            .filter(Recorded::succeeded)
            .collect()
    }
}

fn update_id(u: &Value) -> i64 {
    u["update_id"].as_i64().unwrap_or(0)
}

fn method_of(path: &str) -> Option<&str> {
    path.strip_prefix("/bot")?.split_once('/').map(|(_, m)| m)
}

fn token_of(path: &str) -> Option<String> {
    let (token, _) = path.strip_prefix("/bot")?.split_once('/')?;
    Some(token.replace("%3A", ":").replace("%3a", ":"))
}

async fn handle(State(st): State<Shared<TgState>>, req: Request) -> Response {
    let inc = incoming(req).await;
    if let Some(rest) = inc.uri.path().strip_prefix("/file/bot") {
        let response = download(&st, rest);
        st.core.record(inc.recorded(response.status().as_u16()));
        return response;
    }
    let (status, body) = route(&st, &inc).await;
    let response = answer(status, body, &[]);
    st.core.record(inc.recorded(status));
    response
}

fn ok(result: Value) -> (u16, Value) {
    (200, json!({"ok": true, "result": result}))
}

fn error(code: u16, description: &str) -> (u16, Value) {
    (
        code,
        json!({"ok": false, "error_code": code, "description": description}),
    )
}

async fn route(st: &Shared<TgState>, inc: &Incoming) -> (u16, Value) {
    let path = inc.uri.path().to_owned();
    if token_of(&path).as_deref() != Some(st.token.as_str()) {
        return error(401, "Unauthorized");
    }
    let method = method_of(&path).unwrap_or_default().to_ascii_lowercase();
    let params = params(inc);
    match method.as_str() {
        "getme" => ok(json!({
            "id": 7_012_345_678_i64, "is_bot": true, "first_name": "Acme Support",
            "username": "acme_support_bot", "can_join_groups": true,
            "can_read_all_group_messages": false, "supports_inline_queries": false,
        })),
        "getwebhookinfo" => {
            let url = st
                .webhook
                .lock()
                .expect("fake lock")
                .clone()
                .map(|(u, _)| u)
                .unwrap_or_default();
            let pending = st.updates.lock().expect("fake lock").len();
            ok(
                json!({"url": url, "has_custom_certificate": false, "pending_update_count": pending}),
            )
        }
        "setwebhook" => {
            let url = params["url"].as_str().unwrap_or_default().to_owned();
            let secret = params["secret_token"].as_str().map(str::to_owned);
            *st.webhook.lock().expect("fake lock") = Some((url, secret));
            ok(json!(true))
        }
        "deletewebhook" => {
            *st.webhook.lock().expect("fake lock") = None;
            if params["drop_pending_updates"] == json!(true)
                || params["drop_pending_updates"] == json!("true")
            {
                st.updates.lock().expect("fake lock").clear();
            }
            ok(json!(true))
        }
        "getupdates" => get_updates(st, &params).await,
        "sendmessage" => send_message(st, &params),
        "sendphoto" => send_media(st, &params, "photo"),
        "senddocument" => send_media(st, &params, "document"),
        "getfile" => match params["file_id"].as_str().filter(|f| !f.is_empty()) {
            Some(id) => ok(json!({
                "file_id": id,
                "file_unique_id": format!("u{id}"),
                "file_size": 12,
                "file_path": format!("files/{id}.jpg"),
            })),
            None => error(400, "Bad Request: invalid file_id"),
        },
        "answercallbackquery" => ok(json!(true)),
        _ => error(404, "Not Found: method not found"),
    }
}

/// The request's parameters: JSON, or a multipart form (teloxide sends methods with
/// optional files, such as `setWebhook`, as multipart) as an object of strings.
fn params(inc: &Incoming) -> Value {
    let content_type = inc
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(boundary) = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| rest.split("boundary=").nth(1))
        .map(|b| b.trim_matches('"').to_owned())
    else {
        return inc.json();
    };
    let body = String::from_utf8_lossy(&inc.body);
    let mut fields = serde_json::Map::new();
    for part in body.split(&format!("--{boundary}")) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let Some(name) = head
            .split("name=\"")
            .nth(1)
            .and_then(|n| n.split('"').next())
        else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        fields.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    Value::Object(fields)
}

async fn get_updates(st: &Shared<TgState>, params: &Value) -> (u16, Value) {
    if st.webhook.lock().expect("fake lock").is_some() {
        return error(
            409,
            "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
        );
    }
    if st.polls_in_flight.fetch_add(1, Ordering::SeqCst) > 0 {
        st.overlapping_polls.fetch_add(1, Ordering::SeqCst);
    }
    let _in_flight = InFlight(&st.polls_in_flight);
    let offset = params["offset"].as_i64().unwrap_or(0);
    let limit = params["limit"]
        .as_u64()
        .map_or(100, |l| l.clamp(1, 100) as usize);
    let timeout = Duration::from_secs(params["timeout"].as_u64().unwrap_or(0)).min(MAX_LONG_POLL);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let arrived = st.arrived.notified();
        let batch: Vec<Value> = {
            let mut updates = st.updates.lock().expect("fake lock");
            // Calling with an offset confirms every earlier update.
            updates.retain(|u| update_id(u) >= offset);
            updates.iter().take(limit).cloned().collect()
        };
        if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
            return ok(Value::Array(batch));
        }
        let _ = tokio::time::timeout_at(deadline, arrived).await;
    }
}

/// `GET /file/bot<token>/<file_path>`.
fn download(st: &Shared<TgState>, rest: &str) -> Response {
    let Some((token, path)) = rest.split_once('/') else {
        return answer(
            404,
            json!({"ok": false, "error_code": 404, "description": "Not Found"}),
            &[],
        );
    };
    if token.replace("%3A", ":") != st.token || !path.starts_with("files/") {
        return answer(
            404,
            json!({"ok": false, "error_code": 404, "description": "Not Found"}),
            &[],
        );
    }
    let mut r = Response::new(axum::body::Body::from(format!("FAKE-TG-FILE-{path}")));
    let mime = if path.ends_with(".jpg") {
        "image/jpeg"
    } else {
        "application/octet-stream"
    };
    r.headers_mut()
        .insert("content-type", axum::http::HeaderValue::from_static(mime));
    r
}

/// `sendPhoto` / `sendDocument`: `field` names the file (a URL or a file id).
fn send_media(st: &Shared<TgState>, params: &Value, field: &str) -> (u16, Value) {
    let chat_id = params[field].as_str().map(|_| params["chat_id"].clone());
    let Some(chat_id) = chat_id.filter(|c| !c.is_null()) else {
        return error(400, "Bad Request: there is no photo in the request");
    };
    if params["caption"]
        .as_str()
        .is_some_and(|t| t.chars().count() > 1024)
    {
        return error(400, "Bad Request: message caption is too long");
    }
    match st.core.next_reply() {
        Reply::Ok | Reply::AcceptThenFail { .. } => ok(json!({
            "message_id": st.core.next_id(),
            "from": {"id": 7_012_345_678_i64, "is_bot": true, "first_name": "Acme Support", "username": "acme_support_bot"},
            "chat": {"id": chat_id, "first_name": "Customer", "type": "private"},
            "date": time::OffsetDateTime::now_utc().unix_timestamp(),
            field: if field == "photo" {
                json!([{"file_id": "AgACAgFAKE", "file_unique_id": "AQADFAKE", "width": 90, "height": 90, "file_size": 1200}])
            } else {
                json!({"file_id": "BQACAgFAKE", "file_unique_id": "AQADFAKE2", "file_name": "file", "file_size": 1200})
            },
            "caption": params["caption"],
        })),
        other => scripted_failure(other),
    }
}

fn scripted_failure(reply: Reply) -> (u16, Value) {
    match reply {
        Reply::RateLimited { retry_after_secs } => (
            429,
            json!({
                "ok": false,
                "error_code": 429,
                "description": format!("Too Many Requests: retry after {retry_after_secs}"),
                "parameters": {"retry_after": retry_after_secs},
            }),
        ),
        Reply::Unauthorized => error(401, "Unauthorized"),
        Reply::ServerError => error(500, "Internal Server Error"),
        Reply::WindowClosed => error(400, "Bad Request: chat not found"),
        Reply::Blocked => error(403, "Forbidden: bot was blocked by the user"),
        Reply::GraphError { status, .. } => error(status, "Bad Request: scripted error"),
        Reply::Ok | Reply::AcceptThenFail { .. } => error(500, "Internal Server Error"),
    }
}

fn send_message(st: &Shared<TgState>, params: &Value) -> (u16, Value) {
    let chat_id = params["chat_id"].clone();
    if chat_id.is_null() || params["text"].as_str().is_none_or(str::is_empty) {
        return error(400, "Bad Request: message text is empty");
    }
    if params["text"]
        .as_str()
        .is_some_and(|t| t.chars().count() > 4096)
    {
        return error(400, "Bad Request: message is too long");
    }
    match st.core.next_reply() {
        Reply::Ok | Reply::AcceptThenFail { .. } => ok(json!({
            "message_id": st.core.next_id(),
            "from": {"id": 7_012_345_678_i64, "is_bot": true, "first_name": "Acme Support", "username": "acme_support_bot"},
            "chat": {"id": chat_id, "first_name": "Customer", "type": "private"},
            "date": time::OffsetDateTime::now_utc().unix_timestamp(),
            "text": params["text"],
        })),
        Reply::RateLimited { retry_after_secs } => (
            429,
            json!({
                "ok": false,
                "error_code": 429,
                "description": format!("Too Many Requests: retry after {retry_after_secs}"),
                "parameters": {"retry_after": retry_after_secs},
            }),
        ),
        Reply::Unauthorized => error(401, "Unauthorized"),
        Reply::ServerError => error(500, "Internal Server Error"),
        Reply::WindowClosed => error(400, "Bad Request: chat not found"),
        Reply::Blocked => error(403, "Forbidden: bot was blocked by the user"),
        Reply::GraphError { status, .. } => error(status, "Bad Request: scripted error"),
    }
}
