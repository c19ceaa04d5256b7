//! A fake WhatsApp Cloud API (Graph): `POST /{version}/{phone_number_id}/messages`,
//! `GET /{version}/{media_id}` and the media download URL it returns. Checks the bearer
//! token; answers sends from the script; can post status webhooks (`delivered`, or a
//! `failed` status with an error code such as 131047) back to the gateway, signed with
//! the app secret like Meta does.

use super::{Core, Incoming, Recorded, Reply, Server, Shared, answer, graph_error, incoming};
use crate::payloads;
use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use std::sync::{Arc, Mutex};

/// A running fake Cloud API.
#[derive(Debug)]
pub struct WhatsAppFake {
    server: Server,
    state: Shared<WaState>,
}

#[derive(Debug)]
struct WaState {
    core: Core,
    access_token: String,
    phone_number_id: String,
    version: String,
    webhook: Mutex<Option<(String, String)>>,
    auto_delivered: std::sync::atomic::AtomicBool,
    http: reqwest::Client,
}

impl WhatsAppFake {
    /// Starts a fake accepting `access_token` for `phone_number_id` under `version`
    /// (e.g. `v21.0`).
    pub async fn start(access_token: &str, phone_number_id: &str, version: &str) -> Self {
        let state = Arc::new(WaState {
            core: Core::default(),
            access_token: access_token.to_owned(),
            phone_number_id: phone_number_id.to_owned(),
            version: version.to_owned(),
            webhook: Mutex::new(None),
            auto_delivered: std::sync::atomic::AtomicBool::new(false),
            http: reqwest::Client::new(),
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

    /// Queues how the next send is answered.
    pub fn script(&self, reply: Reply) {
        self.state.core.push(reply);
    }

    /// Every request received.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.core.requests()
    }

    /// The send requests (`POST …/messages`) received.
    pub fn sends(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == axum::http::Method::POST && r.path.ends_with("/messages"))
            .collect()
    }

    /// The sends answered with success.
    pub fn delivered(&self) -> Vec<Recorded> {
        self.sends()
            .into_iter()
            .filter(Recorded::succeeded)
            .collect()
    }

    /// Where status webhooks go (the gateway's `/webhooks/whatsapp`) and the app secret
    /// to sign them with.
    pub fn set_webhook(&self, url: &str, app_secret: &str) {
        *self.state.webhook.lock().expect("fake lock") =
            Some((url.to_owned(), app_secret.to_owned()));
    }

    /// Posts a `delivered` status for every successful send from now on.
    pub fn auto_delivered(&self, on: bool) {
        self.state
            .auto_delivered
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn handle(State(st): State<Shared<WaState>>, req: Request) -> Response {
    let inc = incoming(req).await;
    let (status, body) = route(&st, &inc);
    let response = match &body {
        Answer::Json(v, headers) => answer(status, v.clone(), headers),
        Answer::Bytes(b) => {
            let mut r = Response::new(axum::body::Body::from(b.clone()));
            r.headers_mut().insert(
                "content-type",
                axum::http::HeaderValue::from_static("image/jpeg"),
            );
            r
        }
    };
    st.core.record(inc.recorded(status));
    response
}

enum Answer {
    Json(serde_json::Value, Vec<(&'static str, String)>),
    Bytes(Vec<u8>),
}

fn json(v: serde_json::Value) -> Answer {
    Answer::Json(v, Vec::new())
}

fn route(st: &Shared<WaState>, inc: &Incoming) -> (u16, Answer) {
    if inc.bearer() != Some(st.access_token.as_str()) {
        return (
            401,
            json(graph_error(190, None, "Error validating access token")),
        );
    }
    let path = inc.uri.path();
    let messages = format!("/{}/{}/messages", st.version, st.phone_number_id);
    if inc.method == axum::http::Method::POST && path == messages {
        return send(st, inc);
    }
    if inc.method == axum::http::Method::GET {
        if let Some(id) = path.strip_prefix("/media-download/") {
            return (200, Answer::Bytes(format!("FAKE-MEDIA-{id}").into_bytes()));
        }
        if let Some(id) = path.strip_prefix(&format!("/{}/", st.version)) {
            return (
                200,
                json(serde_json::json!({
                    "messaging_product": "whatsapp",
                    "url": format!("http://{}/media-download/{id}", host(inc)),
                    "mime_type": "image/jpeg",
                    "sha256": "0000",
                    "file_size": "12",
                    "id": id,
                })),
            );
        }
    }
    (404, json(graph_error(100, Some(33), "Unsupported request")))
}

fn host(inc: &Incoming) -> &str {
    inc.headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
}

fn send(st: &Shared<WaState>, inc: &Incoming) -> (u16, Answer) {
    let body = inc.json();
    let to = body["to"].as_str().unwrap_or_default().to_owned();
    if body["messaging_product"] != "whatsapp" || to.is_empty() {
        return (400, json(graph_error(100, None, "Invalid parameter")));
    }
    match st.core.next_reply() {
        Reply::Ok => {
            let wamid = format!("wamid.FAKE{:08}", st.core.next_id());
            if st.auto_delivered.load(std::sync::atomic::Ordering::SeqCst) {
                post_status(
                    st,
                    payloads::whatsapp_status(&st.phone_number_id, &wamid, &to, "delivered", None),
                );
            }
            (200, json(ok_body(&to, &wamid)))
        }
        Reply::AcceptThenFail { code } => {
            let wamid = format!("wamid.FAKE{:08}", st.core.next_id());
            post_status(
                st,
                payloads::whatsapp_status(&st.phone_number_id, &wamid, &to, "failed", Some(code)),
            );
            (200, json(ok_body(&to, &wamid)))
        }
        Reply::RateLimited { retry_after_secs } => (
            429,
            Answer::Json(
                graph_error(130429, None, "Rate limit hit"),
                vec![("retry-after", retry_after_secs.to_string())],
            ),
        ),
        Reply::Unauthorized => (
            401,
            json(graph_error(190, None, "Error validating access token")),
        ),
        Reply::ServerError => (500, json(graph_error(131000, None, "Something went wrong"))),
        Reply::WindowClosed => (
            400,
            json(graph_error(131047, None, "Re-engagement message")),
        ),
        Reply::Blocked => (
            400,
            json(graph_error(131026, None, "Message undeliverable")),
        ),
        Reply::GraphError {
            status,
            code,
            subcode,
        } => (status, json(graph_error(code, subcode, "Scripted error"))),
    }
}

fn ok_body(to: &str, wamid: &str) -> serde_json::Value {
    serde_json::json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": wamid}],
    })
}

/// Posts a signed status webhook to the gateway, shortly after the send's answer.
fn post_status(st: &Shared<WaState>, body: String) {
    let Some((url, secret)) = st.webhook.lock().expect("fake lock").clone() else {
        return;
    };
    let http = st.http.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let signature = payloads::meta_signature(&secret, body.as_bytes());
        let _ = http
            .post(url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await;
    });
}
