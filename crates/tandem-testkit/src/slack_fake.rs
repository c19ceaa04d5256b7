//! A fake Slack Web API for the Slack desk: `POST /api/<method>` with `auth.test`,
//! `chat.postMessage`, `chat.update` and `reactions.add` (answering `already_reacted` for
//! a reaction the bot already added, as Slack does), checking `Authorization: Bearer <token>`,
//! recording every request, and answering from a script of [`SlackReply`]s (first in,
//! first out, for `chat.*` calls; an empty script answers success) in Slack's own style:
//! HTTP 200 with `{"ok":false,"error":…}` for most failures, HTTP 429 with `Retry-After`
//! for rate limits (`docs/platform-contracts.md` §5.3).
//!
//! [`sign`] signs an inbound request (Events API, interactivity) the way Slack does.

use crate::fake::{Core, Recorded, Server, answer, incoming, serve};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// The fake bot's user id (`auth.test`).
pub const BOT_USER_ID: &str = "U0BOTUSER1";
/// The fake bot's bot id (`auth.test`, and on every posted message).
pub const BOT_ID: &str = "B0GATEWAY1";
/// The fake workspace.
pub const TEAM_ID: &str = "T0ACME1234";

/// How the fake answers the next `chat.*` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlackReply {
    /// `{"ok":true,…}` with a fresh ts.
    Ok,
    /// HTTP 200 `{"ok":false,"error":<code>}` (`not_in_channel`, `invalid_auth`, …).
    Error(String),
    /// HTTP 429 with `Retry-After: <secs>` and `{"ok":false,"error":"ratelimited"}`.
    RateLimited {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
    /// A bare HTTP status (e.g. 503) with an empty JSON body.
    Status(u16),
}

#[derive(Debug)]
struct SlackState {
    core: Core,
    token: String,
    script: Mutex<VecDeque<SlackReply>>,
    auth_ok: Mutex<bool>,
    reactions: Mutex<Vec<Reaction>>,
}

/// A reaction the bot added (`reactions.add`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    /// The channel of the message.
    pub channel: String,
    /// The message's ts.
    pub ts: String,
    /// The emoji name, without colons (`white_check_mark`).
    pub name: String,
}

/// A running fake Slack Web API.
#[derive(Debug)]
pub struct SlackFake {
    server: Server,
    state: Arc<SlackState>,
}

impl SlackFake {
    /// Starts a fake accepting bot token `token`.
    pub async fn start(token: &str) -> Self {
        let state = Arc::new(SlackState {
            core: Core::default(),
            token: token.to_owned(),
            script: Mutex::new(VecDeque::new()),
            auth_ok: Mutex::new(true),
            reactions: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/api/{method}", axum::routing::post(handle))
            .with_state(state.clone());
        SlackFake {
            server: serve(app).await,
            state,
        }
    }

    /// The `api_base` to configure (`http://127.0.0.1:<port>`).
    pub fn base_url(&self) -> &str {
        &self.server.base
    }

    /// Queues the answer to the next `chat.*` call.
    pub fn script(&self, reply: SlackReply) {
        self.state
            .script
            .lock()
            .expect("fake lock")
            .push_back(reply);
    }

    /// Makes `auth.test` fail (`invalid_auth`) or work again.
    pub fn set_auth_test_ok(&self, ok: bool) {
        *self.state.auth_ok.lock().expect("fake lock") = ok;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.core.requests()
    }

    /// Requests to one method (`chat.postMessage`).
    pub fn calls(&self, method: &str) -> Vec<Recorded> {
        let path = format!("/api/{method}");
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Bodies of the `chat.postMessage` calls that were answered `ok: true`.
    pub fn posted(&self) -> Vec<Value> {
        self.state
            .core
            .requests()
            .into_iter()
            .filter(|r| {
                r.path == "/api/chat.postMessage"
                    && r.succeeded()
                    && r.header("x-fake-ok") == Some("1")
            })
            .map(|r| r.json())
            .collect()
    }

    /// Root messages posted (no `thread_ts`), in order.
    pub fn roots(&self) -> Vec<Value> {
        self.posted()
            .into_iter()
            .filter(|b| b.get("thread_ts").is_none())
            .collect()
    }

    /// Thread replies posted under root `ts`, in order.
    pub fn replies(&self, ts: &str) -> Vec<Value> {
        self.posted()
            .into_iter()
            .filter(|b| b["thread_ts"] == ts)
            .collect()
    }

    /// The ts the fake gave the `n`-th successful post (0-based), as [`Self::posted`] lists them.
    pub fn ts_of(n: u64) -> String {
        format!("1767261600.{:06}", 100 + n)
    }

    /// The reactions added, in order (each once).
    pub fn reactions(&self) -> Vec<Reaction> {
        self.state.reactions.lock().expect("fake lock").clone()
    }

    /// The names of the reactions on message `ts`, in the order they were added.
    pub fn reactions_on(&self, ts: &str) -> Vec<String> {
        self.reactions()
            .into_iter()
            .filter(|r| r.ts == ts)
            .map(|r| r.name)
            .collect()
    }

    /// Bodies of the `chat.update` calls answered `ok: true`.
    pub fn updates(&self) -> Vec<Value> {
        self.calls("chat.update")
            .into_iter()
            .filter(|r| r.header("x-fake-ok") == Some("1"))
            .map(|r| r.json())
            .collect()
    }
}

/// Slack's request signature headers for `body` at `timestamp`:
/// `(X-Slack-Request-Timestamp, X-Slack-Signature)`.
pub fn sign(signing_secret: &str, timestamp: i64, body: &[u8]) -> (String, String) {
    let ts = timestamp.to_string();
    let sig = tandem_sdk::signature::hmac_sha256_hex(
        signing_secret.as_bytes(),
        &[b"v0:", ts.as_bytes(), b":", body],
    );
    (ts, format!("v0={sig}"))
}

/// Now, in Unix seconds.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

async fn handle(State(st): State<Arc<SlackState>>, req: Request) -> Response {
    let mut inc = incoming(req).await;
    let method = inc.uri.path().trim_start_matches("/api/").to_owned();
    let authorized = inc.bearer() == Some(st.token.as_str());
    let body = if inc.body.starts_with(b"{") {
        inc.json()
    } else {
        // Form-encoded calls: read the fields into an object.
        Value::Object(
            url::form_urlencoded::parse(&inc.body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        )
    };
    let (status, answer_body, headers) = if !authorized {
        (200, json!({"ok": false, "error": "invalid_auth"}), vec![])
    } else {
        match method.as_str() {
            "auth.test" => {
                if *st.auth_ok.lock().expect("fake lock") {
                    (
                        200,
                        json!({"ok": true, "url": "https://acme-support.slack.com/", "team": "Acme",
                               "user": "tandem", "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID}),
                        vec![],
                    )
                } else {
                    (200, json!({"ok": false, "error": "invalid_auth"}), vec![])
                }
            }
            "chat.postMessage" | "chat.update" => chat(&st, &method, &body),
            "reactions.add" => react(&st, &body),
            _ => (200, json!({"ok": false, "error": "unknown_method"}), vec![]),
        }
    };
    let ok = answer_body["ok"] == true;
    if ok {
        // Marks the recording so the helpers can tell successes from ok:false answers.
        inc.headers
            .insert("x-fake-ok", axum::http::HeaderValue::from_static("1"));
    }
    st.core.record(inc.recorded(status));
    answer(status, answer_body, &headers)
}

type Answer = (u16, Value, Vec<(&'static str, String)>);

/// `reactions.add`: `channel`, `timestamp` and `name` (no colons) are required; adding a
/// reaction the bot already added answers `already_reacted`. Not scripted (the script is
/// for `chat.*` calls).
fn react(st: &SlackState, body: &Value) -> Answer {
    let field = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let (channel, ts, name) = (field("channel"), field("timestamp"), field("name"));
    if channel.is_empty() || ts.is_empty() {
        return (
            200,
            json!({"ok": false, "error": "no_item_specified"}),
            vec![],
        );
    }
    if name.is_empty() || name.contains(':') || name.contains(' ') {
        return (200, json!({"ok": false, "error": "invalid_name"}), vec![]);
    }
    if !ts.contains('.') {
        return (200, json!({"ok": false, "error": "bad_timestamp"}), vec![]);
    }
    let reaction = Reaction { channel, ts, name };
    let mut all = st.reactions.lock().expect("fake lock");
    if all.contains(&reaction) {
        return (
            200,
            json!({"ok": false, "error": "already_reacted"}),
            vec![],
        );
    }
    all.push(reaction);
    (200, json!({"ok": true}), vec![])
}

fn chat(st: &SlackState, method: &str, body: &Value) -> Answer {
    let reply = st
        .script
        .lock()
        .expect("fake lock")
        .pop_front()
        .unwrap_or(SlackReply::Ok);
    match reply {
        SlackReply::Error(code) => return (200, json!({"ok": false, "error": code}), vec![]),
        SlackReply::RateLimited { retry_after_secs } => {
            return (
                429,
                json!({"ok": false, "error": "ratelimited"}),
                vec![("retry-after", retry_after_secs.to_string())],
            );
        }
        SlackReply::Status(s) => return (s, json!({}), vec![]),
        SlackReply::Ok => {}
    }
    let Some(channel) = body["channel"].as_str().filter(|c| !c.is_empty()) else {
        return (
            200,
            json!({"ok": false, "error": "channel_not_found"}),
            vec![],
        );
    };
    let text = body["text"].as_str().unwrap_or_default();
    if text.is_empty() && body.get("blocks").is_none() {
        return (200, json!({"ok": false, "error": "no_text"}), vec![]);
    }
    if text.chars().count() > 40_000 {
        return (200, json!({"ok": false, "error": "msg_too_long"}), vec![]);
    }
    let ts = if method == "chat.update" {
        body["ts"].as_str().unwrap_or_default().to_owned()
    } else {
        SlackFake::ts_of(st.core.next_id() - 1)
    };
    let mut message = json!({"type": "message", "text": text, "user": BOT_USER_ID, "bot_id": BOT_ID,
                             "app_id": "A0GATEWAY1", "team": TEAM_ID, "ts": ts});
    if let Some(thread) = body.get("thread_ts") {
        message["thread_ts"] = thread.clone();
        message["parent_user_id"] = json!(BOT_USER_ID);
    }
    (
        200,
        json!({"ok": true, "channel": channel, "ts": ts, "message": message}),
        vec![],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_like_slack() {
        let fake = SlackFake::start("xoxb-test").await;
        let http = reqwest::Client::new();
        let call = |method: &str, token: &str, body: Value| {
            http.post(format!("{}/api/{method}", fake.base_url()))
                .bearer_auth(token)
                .json(&body)
                .send()
        };
        let me: Value = call("auth.test", "xoxb-test", json!({}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["user_id"], BOT_USER_ID);
        let bad: Value = call("auth.test", "nope", json!({}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(bad["error"], "invalid_auth");

        let ok: Value = call(
            "chat.postMessage",
            "xoxb-test",
            json!({"channel": "C1", "text": "hi"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(ok["ts"], SlackFake::ts_of(0));
        fake.script(SlackReply::Error("not_in_channel".into()));
        fake.script(SlackReply::RateLimited {
            retry_after_secs: 7,
        });
        fake.script(SlackReply::Status(503));
        let r = call(
            "chat.postMessage",
            "xoxb-test",
            json!({"channel": "C1", "text": "a"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_in_channel");
        let r = call(
            "chat.postMessage",
            "xoxb-test",
            json!({"channel": "C1", "text": "a"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "7");
        let r = call(
            "chat.postMessage",
            "xoxb-test",
            json!({"channel": "C1", "text": "a"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 503);
        let r: Value = call(
            "chat.postMessage",
            "xoxb-test",
            json!({"channel": "C1", "thread_ts": ok["ts"], "text": "b"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(r["ts"], SlackFake::ts_of(1));
        assert_eq!(fake.roots().len(), 1);
        assert_eq!(fake.replies(&SlackFake::ts_of(0)).len(), 1);
        assert_eq!(fake.calls("chat.postMessage").len(), 5);

        let react = |name: &str| {
            call(
                "reactions.add",
                "xoxb-test",
                json!({"channel": "C1", "timestamp": ok["ts"], "name": name}),
            )
        };
        let r: Value = react("eyes").await.unwrap().json().await.unwrap();
        assert_eq!(r, json!({"ok": true}));
        let r: Value = react("eyes").await.unwrap().json().await.unwrap();
        assert_eq!(r["error"], "already_reacted");
        let r: Value = react(":x:").await.unwrap().json().await.unwrap();
        assert_eq!(r["error"], "invalid_name");
        assert_eq!(fake.reactions_on(&SlackFake::ts_of(0)), ["eyes"]);
    }

    #[test]
    fn signs_like_slack() {
        // Slack's documented example (docs.slack.dev, "Verifying requests from Slack").
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let (ts, sig) = sign("8f742231b10e8888abcd99yyyzzz85a5", 1_531_420_618, body);
        assert_eq!(ts, "1531420618");
        assert_eq!(
            sig,
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }
}
