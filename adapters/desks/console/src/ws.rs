//! The console's HTTP surface: `GET /console` (the page; the sign-in page when signed
//! out), `GET, POST /console/login`, `POST /console/logout`, `GET /console/api/me`,
//! `GET /console/api/agents`, `GET /console/api/history?q=` and `GET /console/ws` (the
//! agents' WebSocket).

use crate::auth;
use crate::protocol::{self, ClientFrame, DraftChoice, FrameError};
use crate::state::{Action, ActionError, Refusal};
use crate::{MAX_FRAME_BYTES, Shared, now};
use axum::Router;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tandem_sdk::handoff::Agent;
use tandem_sdk::{
    DeskAnswer, DeskEvent, DeskEventKind, DraftAnswer, DraftDecision, InboundError, SignIn,
    TransferTarget,
};
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info};

const CONSOLE_HTML: &str = include_str!("../assets/console.html");
const LOGIN_HTML: &str = include_str!("../assets/login.html");

/// Hard limit of the WebSocket layer; frames between [`MAX_FRAME_BYTES`] and this get a
/// polite `frame_too_large`, larger ones end the connection at the protocol level.
const HARD_FRAME_LIMIT: usize = 2 * MAX_FRAME_BYTES;

/// How long a connection without a token in its URL may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// Most closed handoffs one history answer holds.
const HISTORY_LIMIT: usize = 50;

pub(crate) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/console", get(page))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/api/me", get(me))
        .route("/console/api/agents", get(agents))
        .route("/console/api/history", get(history))
        .route("/console/api/upload", post(upload))
        .route("/console/ws", get(upgrade))
        .with_state(shared)
}

fn html(body: &'static str) -> Response {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(body),
    )
        .into_response()
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"error": code, "message": message})),
    )
        .into_response()
}

fn unauthorized() -> Response {
    json_error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "sign in at /console/login",
    )
}

fn unavailable_response(e: &InboundError) -> Response {
    debug!(error = %e, "Console sign-in records unavailable.");
    json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the console is unavailable; try again",
    )
}

fn cross_origin() -> Response {
    json_error(
        StatusCode::FORBIDDEN,
        "cross_origin",
        "this request must come from the console's own page",
    )
}

/// The page for signed-in agents; the sign-in page for everyone else.
async fn page(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match auth::agent(&shared, &headers).await {
        Ok(Some(_)) => html(CONSOLE_HTML),
        Ok(None) => Redirect::to("/console/login").into_response(),
        Err(e) => unavailable_response(&e),
    }
}

async fn login_page() -> Response {
    html(LOGIN_HTML)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    link: Option<String>,
}

/// Longest login, password or link token accepted.
const MAX_CREDENTIAL_LEN: usize = 1024;

async fn login(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<axum::Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if !auth::same_origin(&shared, &headers, true) {
        return cross_origin();
    }
    let Ok(axum::Json(body)) = body else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "send {\"login\", \"password\"} or {\"link\"} as JSON",
        );
    };
    let sign_in = match (body.login, body.password, body.link) {
        (Some(login), Some(password), None) => SignIn::Password { login, password },
        (None, None, Some(token)) => SignIn::Link { token },
        _ => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "send {\"login\", \"password\"} or {\"link\"}",
            );
        }
    };
    let too_long = match &sign_in {
        SignIn::Password { login, password } => {
            login.len() > MAX_CREDENTIAL_LEN || password.len() > MAX_CREDENTIAL_LEN
        }
        SignIn::Link { token } => token.len() > MAX_CREDENTIAL_LEN,
    };
    let account = if too_long {
        Ok(None)
    } else {
        shared.store.sink().sign_in(sign_in).await
    };
    let account = match account {
        Ok(Some(a)) => a,
        Ok(None) => {
            return json_error(
                StatusCode::UNAUTHORIZED,
                "sign_in_failed",
                "wrong name or password, or a link that was used or has expired",
            );
        }
        Err(e) => return unavailable_response(&e),
    };
    let cookie = match auth::start(&shared, &account).await {
        Ok(c) => c,
        Err(e) => return unavailable_response(&e),
    };
    info!(agent.id = %account.id, "Agent signed in to the console.");
    let mut resp = axum::Json(json!({"agent": account.agent()})).into_response();
    if let Some(v) = auth::header_value(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn logout(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !auth::same_origin(&shared, &headers, false) {
        return cross_origin();
    }
    match auth::end(&shared, &headers).await {
        Ok(cookie) => {
            let mut resp = StatusCode::NO_CONTENT.into_response();
            if let Some(v) = auth::header_value(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        Err(e) => unavailable_response(&e),
    }
}

async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match auth::agent(&shared, &headers).await {
        Ok(Some(a)) => {
            axum::Json(json!({"agent": a.agent(), "email": a.email, "skills": a.skills}))
                .into_response()
        }
        Ok(None) => unauthorized(),
        Err(e) => unavailable_response(&e),
    }
}

#[derive(Deserialize)]
struct UploadQuery {
    handoff_id: String,
}

/// `POST /console/api/upload?handoff_id=…`: the body is the file, `Content-Type` its
/// type, `X-Filename` its name (percent-encoded). Signed-in agents (same origin) or a
/// shared console token (`Authorization: Bearer …`). Answers `{"media": {…}}` to put in
/// a `message` frame: the file under a signed Tandem link the customer's platform
/// fetches.
async fn upload(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let allowed = match bearer {
        Some(token) => shared.config.accepts(token),
        None => {
            if auth::cookie_token(&headers).is_none() {
                return unauthorized();
            }
            if !auth::same_origin(&shared, &headers, false) {
                return cross_origin();
            }
            match auth::agent(&shared, &headers).await {
                Ok(a) => a.is_some(),
                Err(e) => return unavailable_response(&e),
            }
        }
    };
    if !allowed {
        return unauthorized();
    }
    // Read only once the agent is known (the server's body limit for this route bounds it).
    let body = match tandem_sdk::http::read_body(body).await {
        Ok(body) => body,
        Err(status) => {
            return json_error(status, "body", "the file could not be read in full");
        }
    };
    if body.is_empty() {
        return json_error(StatusCode::BAD_REQUEST, "empty_file", "the file is empty");
    }
    let mime_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_ascii_lowercase())
        .filter(|m| m.contains('/') && m != "application/x-www-form-urlencoded");
    let filename = headers
        .get("x-filename")
        .and_then(|v| v.to_str().ok())
        .map(percent_decode)
        .filter(|f| !f.trim().is_empty());
    let file = tandem_sdk::media::FetchedMedia {
        bytes: body.to_vec(),
        mime_type,
        filename,
    };
    match shared.store.sink().upload(&q.handoff_id, file).await {
        Ok(media) => axum::Json(json!({"media": media})).into_response(),
        Err(InboundError::Rejected(reason)) => {
            json_error(StatusCode::BAD_REQUEST, "rejected", &reason)
        }
        Err(e) => unavailable_response(&e),
    }
}

/// `%XX` sequences decoded (what `encodeURIComponent` wrote); invalid ones kept.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Agents a handoff can be transferred to (enabled accounts), and the queues they serve.
async fn agents(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match auth::agent(&shared, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => return unauthorized(),
        Err(e) => return unavailable_response(&e),
    }
    match shared.store.sink().agent_accounts().await {
        Ok(list) => {
            let mut queues: Vec<&str> = list
                .iter()
                .filter(|a| !a.disabled)
                .flat_map(|a| a.skills.iter().map(String::as_str))
                .collect();
            queues.sort_unstable();
            queues.dedup();
            let agents: Vec<_> = list
                .iter()
                .filter(|a| !a.disabled)
                .map(|a| json!({"id": a.id, "name": a.name}))
                .collect();
            axum::Json(json!({"agents": agents, "queues": queues})).into_response()
        }
        Err(e) => unavailable_response(&e),
    }
}

async fn history(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    match auth::agent(&shared, &headers).await {
        Ok(Some(_)) => {}
        Ok(None) => return unauthorized(),
        Err(e) => return unavailable_response(&e),
    }
    let q = query.get("q").map_or("", String::as_str);
    if q.len() > MAX_CREDENTIAL_LEN {
        return json_error(StatusCode::BAD_REQUEST, "bad_request", "q is too long");
    }
    match shared.store.history(q, HISTORY_LIMIT).await {
        Ok(list) => axum::Json(json!({
            "handoffs": list.iter().map(crate::state::HandoffRecord::view).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => unavailable_response(&e),
    }
}

/// How a WebSocket connection authenticated.
enum Auth {
    /// A signed-in agent (cookie): acts as the account.
    Session(Agent),
    /// A shared token in the URL: the agent names themselves in `hello`.
    Token,
    /// Nothing yet: `hello` must carry a shared token.
    Pending,
}

async fn upgrade(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let auth = match query.get("token") {
        Some(t) if shared.config.accepts(t) => Auth::Token,
        Some(_) => return (StatusCode::UNAUTHORIZED, "invalid console token").into_response(),
        None => match auth::agent(&shared, &headers).await {
            // The cookie rides along on any request to this host: the page must be ours.
            Ok(Some(_)) if !auth::same_origin(&shared, &headers, false) => return cross_origin(),
            Ok(Some(a)) => Auth::Session(a.agent()),
            // Without a session, only a shared token in the first frame can let one in.
            Ok(None) if !shared.config.tokens.is_empty() => Auth::Pending,
            Ok(None) => return unauthorized(),
            Err(e) => return unavailable_response(&e),
        },
    };
    match ws {
        // Small buffers like web chat's. The per-socket queue is bounded too: live
        // changes come from one broadcast ring (256 frames); a socket that falls behind
        // gets a fresh snapshot instead of a backlog.
        Ok(ws) => tandem_sdk::http::small_websocket(ws, HARD_FRAME_LIMIT)
            .on_upgrade(move |socket| session(shared, socket, auth)),
        Err(rejection) => rejection.into_response(),
    }
}

type Sink = SplitSink<WebSocket, Message>;

async fn send(sink: &mut Sink, frame: String) -> bool {
    sink.send(Message::Text(frame.into())).await.is_ok()
}

async fn close(sink: &mut Sink, code: u16, reason: &'static str) {
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        })))
        .await;
}

/// The handoffs agents see on connect.
async fn snapshot(shared: &Shared) -> String {
    let drafts = shared.store.sink().pending_drafts().await;
    match (shared.store.open_handoffs().await, drafts) {
        (Ok(list), Ok(drafts)) => {
            protocol::snapshot(list.iter().map(|r| r.view()).collect(), &drafts)
        }
        (Err(e), _) | (_, Err(e)) => {
            debug!(error = %e, "Console snapshot unavailable.");
            protocol::error("unavailable", "the queue is unavailable; reconnect", None)
        }
    }
}

async fn session(shared: Arc<Shared>, socket: WebSocket, auth: Auth) {
    let (mut sink, mut stream) = socket.split();
    // Subscribe before reading the snapshot, so no change falls in between.
    let mut live = shared.live.subscribe();
    let (mut authed, mut agent, signed_in) = match auth {
        Auth::Session(a) => (true, Some(a), true),
        Auth::Token => (true, None, false),
        Auth::Pending => (false, None, false),
    };
    if let Some(a) = &agent
        && !send(&mut sink, protocol::me(a)).await
    {
        return;
    }
    if authed && !send(&mut sink, snapshot(&shared).await).await {
        return;
    }
    let deadline = tokio::time::sleep(HELLO_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            msg = stream.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(_))) => {
                        if !send(&mut sink, protocol::error("bad_frame", "send JSON as text frames", None)).await {
                            return;
                        }
                        continue;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | None => return,
                    Some(Err(e)) => {
                        debug!(error = %e, "Console protocol error; closing.");
                        // Larger than the hard limit (refused from its header, unread).
                        let text = e.to_string().to_lowercase();
                        if text.contains("too long") || text.contains("too big") || text.contains("capacity") {
                            close(&mut sink, close_code::SIZE, "frame too large").await;
                        } else {
                            close(&mut sink, close_code::PROTOCOL, "protocol error").await;
                        }
                        return;
                    }
                };
                let reply = if text.len() > MAX_FRAME_BYTES {
                    protocol::error("frame_too_large", "frames are limited to 64 KiB", None)
                } else {
                    match ClientFrame::parse(&text) {
                        Err(FrameError { code, message }) => protocol::error(code, &message, None),
                        // Signed in: the account is who acts, whatever hello says.
                        Ok(ClientFrame::Hello { .. }) if signed_in => continue,
                        Ok(ClientFrame::Hello { agent: who, token }) => {
                            if !authed {
                                if token.as_deref().is_some_and(|t| shared.config.accepts(t)) {
                                    authed = true;
                                } else {
                                    let _ = send(&mut sink, protocol::error("unauthorized", "a valid console token is required", None)).await;
                                    close(&mut sink, close_code::POLICY, "unauthorized").await;
                                    return;
                                }
                                agent = who.map(protocol::AgentFrame::into_agent);
                                snapshot(&shared).await
                            } else {
                                agent = who.map(protocol::AgentFrame::into_agent);
                                continue;
                            }
                        }
                        Ok(frame) => match (&agent, authed) {
                            (Some(a), true) if signed_in => {
                                // A disabled account or an ended session stops here.
                                match shared.store.sink().agent_account(&a.id).await {
                                    Ok(Some(acc)) if !acc.disabled => act(&shared, a, frame, true).await,
                                    Ok(_) => {
                                        let _ = send(&mut sink, protocol::error("unauthorized", "your account is disabled or gone; sign in again", frame.action_id())).await;
                                        close(&mut sink, close_code::POLICY, "unauthorized").await;
                                        return;
                                    }
                                    Err(e) => unavailable(&e, frame.action_id().unwrap_or_default()),
                                }
                            }
                            (Some(a), true) => act(&shared, a, frame, false).await,
                            _ => protocol::error(
                                "hello_required",
                                "say hello (with your agent id) first",
                                frame.action_id(),
                            ),
                        },
                    }
                };
                if !send(&mut sink, reply).await {
                    return;
                }
            }
            frame = live.recv(), if authed => {
                let frame = match frame {
                    Ok(f) => f,
                    // Too slow to keep up: start again from the current state.
                    Err(RecvError::Lagged(_)) => snapshot(&shared).await,
                    Err(RecvError::Closed) => return,
                };
                if !send(&mut sink, frame).await {
                    return;
                }
            }
            () = &mut deadline, if !authed => {
                let _ = send(&mut sink, protocol::error("hello_timeout", "send a hello frame with a token first", None)).await;
                close(&mut sink, close_code::POLICY, "hello timeout").await;
                return;
            }
            () = shared.shutdown.cancelled() => {
                close(&mut sink, close_code::AWAY, "server shutting down").await;
                return;
            }
        }
    }
}

/// Performs one agent action; returns the `ack` or `error` frame to answer with.
async fn act(shared: &Shared, agent: &Agent, frame: ClientFrame, signed_in: bool) -> String {
    let (handoff_id, id, kind, action) = match frame {
        ClientFrame::Drafts => {
            return match shared.store.sink().pending_drafts().await {
                Ok(list) => protocol::drafts(&list),
                Err(e) => {
                    debug!(error = %e, "Console drafts unavailable.");
                    protocol::error("unavailable", "the drafts are unavailable; try again", None)
                }
            };
        }
        ClientFrame::DraftDecide {
            conversation,
            draft,
            decision,
            text,
            id,
        } => {
            let id = id.unwrap_or_else(|| draft.clone());
            let decision = match (decision, text) {
                (DraftChoice::Approve, _) => DraftDecision::Approve,
                (DraftChoice::Reject, _) => DraftDecision::Reject,
                (DraftChoice::Edit, text) => DraftDecision::Edit(text.unwrap_or_default()),
            };
            return match shared
                .store
                .sink()
                .decide_draft(&conversation, &draft, agent.clone(), decision)
                .await
            {
                Ok(DraftAnswer::Decided) => protocol::ack(&id),
                Ok(DraftAnswer::Refused(r)) => protocol::error(&r.code, &r.message, Some(&id)),
                Err(InboundError::Rejected(reason)) => {
                    protocol::error("rejected", &reason, Some(&id))
                }
                Err(e) => unavailable(&e, &id),
            };
        }
        ClientFrame::Accept { handoff_id, id } => {
            (handoff_id, id, DeskEventKind::Accepted, Action::Accept)
        }
        ClientFrame::Resolve { handoff_id, id } => (
            handoff_id,
            id,
            DeskEventKind::Resolved,
            Action::Finish("resolved"),
        ),
        ClientFrame::Release { handoff_id, id } => (
            handoff_id,
            id,
            DeskEventKind::Released,
            Action::Finish("released"),
        ),
        ClientFrame::Message {
            handoff_id,
            id,
            text,
            media: None,
        } => (
            handoff_id,
            id,
            DeskEventKind::AgentMessage { text: text.clone() },
            Action::Message(text),
        ),
        ClientFrame::Message {
            handoff_id,
            id,
            text,
            media: Some(media),
        } => (
            handoff_id,
            id,
            DeskEventKind::AgentMedia {
                text: text.clone(),
                media: media.clone(),
            },
            Action::Media(text, media),
        ),
        ClientFrame::Transfer {
            handoff_id,
            id,
            to_agent,
            to_queue,
        } => {
            let to = match (to_agent, to_queue) {
                (Some(a), _) if !a.id.trim().is_empty() => {
                    // The name comes from the account when there is one; signed-in agents
                    // transfer to accounts only.
                    match shared.store.sink().agent_account(&a.id).await {
                        Ok(Some(acc)) if !acc.disabled => TransferTarget::Agent(acc.agent()),
                        Ok(_) if signed_in => {
                            return protocol::error(
                                "unknown_agent",
                                "no enabled agent account has this id",
                                Some(&id),
                            );
                        }
                        Ok(_) => TransferTarget::Agent(a.into_agent()),
                        Err(e) => return unavailable(&e, &id),
                    }
                }
                (_, Some(q)) => TransferTarget::Queue(q),
                (_, None) => {
                    return protocol::error(
                        "bad_frame",
                        "a transfer names to_agent.id or to_queue",
                        Some(&id),
                    );
                }
            };
            (
                handoff_id,
                id,
                DeskEventKind::Transferred { to },
                Action::Transfer,
            )
        }
        ClientFrame::Hello { .. } => {
            return protocol::error("bad_frame", "hello was already said", None);
        }
    };
    // Namespaced by agent, so two agents' action ids never collide.
    let key = format!("console:{}:{id}", agent.id);
    match shared.store.actionable(&handoff_id, &key).await {
        Ok(true) => {}
        // Recorded before (a resent frame): acknowledge again, no second effect.
        Ok(false) => return protocol::ack(&id),
        Err(ActionError::Refused(Refusal::Unknown)) => {
            return protocol::error(
                "unknown_handoff",
                "no such handoff in this console",
                Some(&id),
            );
        }
        Err(ActionError::Refused(Refusal::NotOpen)) => {
            return protocol::error("not_open", "the handoff is closed", Some(&id));
        }
        Err(ActionError::Store(e)) => return unavailable(&e, &id),
    }
    let event = DeskEvent {
        handoff_id: handoff_id.clone(),
        kind,
        agent: Some(agent.clone()),
    };
    match shared.store.sink().submit(&key, event).await {
        Ok(DeskAnswer::Recorded(_)) => {}
        Ok(DeskAnswer::Refused(r)) => return protocol::error(&r.code, &r.message, Some(&id)),
        Err(InboundError::Rejected(reason)) => {
            return protocol::error("rejected", &reason, Some(&id));
        }
        Err(e) => return unavailable(&e, &id),
    }
    match shared
        .store
        .record_action(&handoff_id, &key, agent, action, &now())
        .await
    {
        Ok(change) => shared.push(&change).await,
        // The core has the action; only the console's copy of it is behind.
        Err(e) => debug!(error = %e, "Console record not updated after an agent action."),
    }
    protocol::ack(&id)
}

fn unavailable(e: &InboundError, id: &str) -> String {
    debug!(error = %e, "Console action not recorded.");
    protocol::error("unavailable", "not recorded; send it again", Some(id))
}
