//! Receiving: the WebSocket endpoint, the widget and the demo page.

use crate::MAX_FRAME_BYTES;
use crate::config::WebChatConfig;
use crate::hub::Hub;
use crate::outbound::party_name;
use crate::protocol::{ButtonFrame, ClientFrame, MAX_ID_LEN, ServerFrame, User};
use crate::session::{SessionSigner, Upload};
use axum::Extension;
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use futures::{SinkExt, StreamExt};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tandem_sdk::limit::KeyedLimiter;
use tandem_sdk::model::{
    Content, ExternalIdentity, InboundMessage, Party, PlatformMessageId, TranscriptEntry,
};
use tandem_sdk::{Found, InboundError, InboundSink};
use time::format_description::well_known::Rfc3339;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::debug;

const WIDGET_JS: &str = include_str!("../assets/widget.js");
const DEMO_HTML: &str = include_str!("../assets/demo.html");

/// Hard limit of the WebSocket layer: frames between [`MAX_FRAME_BYTES`] and this are
/// read and refused; larger ones are refused from their header, unread. Both get
/// `frame_too_large` and close code 1009.
const HARD_FRAME_LIMIT: usize = 2 * MAX_FRAME_BYTES;

/// Frames queued for one socket's writer; pushes to a full queue are dropped (the
/// transcript keeps them).
const QUEUE_FRAMES: usize = 64;

#[derive(Clone)]
pub(crate) struct WsState {
    pub(crate) config: Arc<WebChatConfig>,
    pub(crate) sessions: SessionSigner,
    pub(crate) hub: Arc<Hub>,
    pub(crate) sink: InboundSink,
    pub(crate) shutdown: CancellationToken,
    /// Token buckets per visitor subject (all tabs of a session together).
    pub(crate) session_limits: Arc<KeyedLimiter<String>>,
    /// Token buckets per client address.
    pub(crate) address_limits: Arc<KeyedLimiter<IpAddr>>,
}

pub(crate) fn routes(state: WsState) -> Router {
    Router::new()
        .route("/webchat/ws", get(upgrade))
        .route("/webchat/upload", post(upload))
        .route("/webchat/widget.js", get(widget))
        .route("/", get(demo))
        .with_state(state)
}

async fn widget() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        WIDGET_JS,
    )
        .into_response()
}

async fn demo() -> Html<&'static str> {
    Html(DEMO_HTML)
}

/// MIME types a visitor may upload: images, audio, video, PDF and plain text.
fn uploadable(mime: &str) -> bool {
    mime.starts_with("image/")
        || mime.starts_with("audio/")
        || mime.starts_with("video/")
        || mime == "application/pdf"
        || mime == "text/plain"
}

#[derive(serde::Deserialize)]
struct UploadQuery {
    #[serde(default)]
    name: Option<String>,
}

/// `POST /webchat/upload?name=<file name>`: the file as the body, its type as
/// `Content-Type`, the visitor's session token (from `welcome`) as
/// `Authorization: Bearer`. Answers `{"media": <upload token>, "kind", "mime_type"}`;
/// the widget then sends a `message` frame with `media` set to that token. 401 without
/// a valid session, 415 for a type that is not accepted, 413 over the size limit (the
/// server's body limit, and `[media] max_bytes`).
async fn upload(
    State(state): State<WsState>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<UploadQuery>,
    body: axum::body::Body,
) -> Response {
    let error = |status: StatusCode, code: &str, message: &str| {
        (
            status,
            axum::Json(serde_json::json!({"error": code, "message": message})),
        )
            .into_response()
    };
    if !state.config.allowed_origins.is_empty()
        && let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && !state.config.allowed_origins.iter().any(|o| o == origin)
    {
        return error(StatusCode::FORBIDDEN, "forbidden", "origin not allowed");
    }
    let Some(subject) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| state.sessions.verify(token.trim()))
    else {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a web chat session token is required (Authorization: Bearer)",
        );
    };
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !uploadable(&mime) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_type",
            "images, audio, video, PDF and plain text can be sent",
        );
    }
    // Read only now, after the session and the type were checked (the server's body
    // limit for this route bounds it).
    let body = match tandem_sdk::http::read_body(body).await {
        Ok(body) => body,
        Err(status) => return error(status, "body", "the file could not be read in full"),
    };
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, "empty", "the file is empty");
    }
    let filename = query
        .name
        .map(|n| {
            n.chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        })
        .filter(|n| !n.trim().is_empty());
    let identity = ExternalIdentity::new(state.sink.channel().clone(), subject.clone());
    let file = tandem_sdk::media::FetchedMedia {
        bytes: body.to_vec(),
        mime_type: Some(mime.clone()),
        filename,
    };
    match state.sink.upload(&identity, file).await {
        Ok(reference) => {
            let kind = media_kind(&mime);
            let token = state.sessions.issue_upload(&Upload {
                subject,
                reference,
                mime_type: mime.clone(),
            });
            axum::Json(serde_json::json!({
                "media": token,
                "kind": kind.as_str(),
                "mime_type": mime,
            }))
            .into_response()
        }
        Err(InboundError::Rejected(reason)) if reason.contains("large") => {
            error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", &reason)
        }
        Err(InboundError::Rejected(reason)) => error(StatusCode::FORBIDDEN, "rejected", &reason),
        Err(InboundError::Unavailable(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the file could not be kept; send it again",
        ),
    }
}

fn media_kind(mime: &str) -> tandem_sdk::model::MediaKind {
    use tandem_sdk::model::MediaKind;
    if mime.starts_with("image/") {
        MediaKind::Image
    } else if mime.starts_with("audio/") {
        MediaKind::Audio
    } else if mime.starts_with("video/") {
        MediaKind::Video
    } else {
        MediaKind::Document
    }
}

async fn upgrade(
    State(state): State<WsState>,
    connect_info: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let address = connect_info.map(|Extension(ConnectInfo(addr))| addr.ip());
    if !state.config.allowed_origins.is_empty() {
        let origin = headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !state.config.allowed_origins.iter().any(|o| o == origin) {
            return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
        }
    }
    // Small buffers (a client that does not read is closed once 256 KiB wait unsent; its
    // messages stay in the transcript for the next resume).
    tandem_sdk::http::small_websocket(ws, HARD_FRAME_LIMIT)
        .on_upgrade(move |socket| handle_socket(state, socket, address))
}

/// Who the visitor is, once `hello` was read.
struct Visitor {
    subject: String,
    identity: ExternalIdentity,
    verified: bool,
    /// Tandem holds no record of this anonymous visitor yet: its first message creates
    /// the customer, the conversation and the greeting the welcome announced.
    pending: bool,
}

async fn handle_socket(state: WsState, socket: WebSocket, address: Option<IpAddr>) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<ServerFrame>(QUEUE_FRAMES);
    // The writer owns the sending half; everything (acks, errors, pushes) goes through
    // `tx`, so frames keep their order.
    let (close_tx, mut close_rx) = mpsc::channel::<CloseFrame>(1);
    let writer = tokio::spawn(async move {
        let close = loop {
            tokio::select! {
                frame = rx.recv() => match frame {
                    Some(frame) => {
                        if sink.send(Message::Text(frame.to_json().into())).await.is_err() {
                            return;
                        }
                    }
                    // The reader is done; it may have asked for a close just before.
                    None => break close_rx.try_recv().ok(),
                },
                close = close_rx.recv() => break close,
            }
        };
        // Frames queued before the close go out first.
        while let Ok(frame) = rx.try_recv() {
            if sink
                .send(Message::Text(frame.to_json().into()))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = sink.send(Message::Close(close)).await;
    });

    let hello_timeout = Duration::from_secs(state.config.hello_timeout_secs.unwrap_or(30));
    let mut visitor: Option<(Visitor, u64)> = None;
    let deadline = tokio::time::sleep(hello_timeout);
    tokio::pin!(deadline);
    loop {
        let next = tokio::select! {
            msg = stream.next() => msg,
            () = &mut deadline, if visitor.is_none() => {
                let _ = tx.send(ServerFrame::error("hello_timeout", "send a hello frame first")).await;
                let _ = close_tx.send(CloseFrame { code: close_code::POLICY, reason: "hello timeout".into() }).await;
                break;
            }
            () = state.shutdown.cancelled() => {
                let _ = close_tx.send(CloseFrame { code: close_code::AWAY, reason: "server shutting down".into() }).await;
                break;
            }
        };
        let msg = match next {
            Some(Ok(msg)) => msg,
            Some(Err(e)) => {
                let text = e.to_string().to_lowercase();
                if text.contains("too long")
                    || text.contains("too big")
                    || text.contains("capacity")
                {
                    // Larger than the hard limit, refused from its header.
                    too_large(&tx, &close_tx).await;
                    break;
                }
                // A protocol violation (e.g. a text frame that is not UTF-8): fail the
                // connection with the RFC 6455 code; the error text names no user data.
                let code = if text.contains("utf") {
                    close_code::INVALID
                } else {
                    close_code::PROTOCOL
                };
                debug!(error = %e, "Web chat protocol error; closing.");
                let _ = close_tx
                    .send(CloseFrame {
                        code,
                        reason: "protocol error".into(),
                    })
                    .await;
                break;
            }
            None => break,
        };
        let text = match msg {
            Message::Text(t) => t.to_string(),
            Message::Binary(b) => {
                if b.len() > MAX_FRAME_BYTES {
                    too_large(&tx, &close_tx).await;
                    break;
                }
                match String::from_utf8(b.to_vec()) {
                    Ok(_) => {
                        let _ = tx
                            .send(ServerFrame::error(
                                "binary_not_supported",
                                "send JSON as text frames",
                            ))
                            .await;
                    }
                    Err(_) => {
                        let _ = tx
                            .send(ServerFrame::error(
                                "invalid_utf8",
                                "frames must be UTF-8 JSON text",
                            ))
                            .await;
                    }
                }
                continue;
            }
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if text.len() > MAX_FRAME_BYTES {
            too_large(&tx, &close_tx).await;
            break;
        }
        let frame: ClientFrame = match serde_json::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                let code = if serde_json::from_str::<serde_json::Value>(&text).is_err() {
                    "bad_json"
                } else if e.to_string().contains("unknown variant") {
                    "unknown_type"
                } else {
                    "bad_frame"
                };
                let _ = tx
                    .send(ServerFrame::error(code, frame_error_message(code, &e)))
                    .await;
                continue;
            }
        };
        match (frame, &mut visitor) {
            (
                ClientFrame::Hello {
                    session,
                    user,
                    user_hash,
                    user_token,
                },
                None,
            ) => {
                let mut v = identify(
                    &state,
                    session.as_deref(),
                    user,
                    user_hash.as_deref(),
                    user_token.as_deref(),
                );
                // An anonymous visitor Tandem holds no customer for writes nothing here:
                // the welcome announces the conversation's id and the greeting, and the
                // first message creates them (`Visitor::pending`). Verified users are
                // resumed (and created) at once.
                let limit = state.config.history_limit();
                let found = if v.verified {
                    state
                        .sink
                        .resume(v.identity.clone(), limit)
                        .await
                        .map(Found::Session)
                } else {
                    state.sink.find(v.identity.clone(), limit).await
                };
                match found {
                    Ok(found) => {
                        let id = state.hub.register(&v.subject, tx.clone());
                        let (conversation_id, frames) = match found {
                            Found::Session(resumed) => {
                                let own_prefix = format!("{}/", v.subject);
                                let frames: Vec<_> = resumed
                                    .history
                                    .into_iter()
                                    .map(|entry| history_frame(entry, &own_prefix))
                                    .collect();
                                (resumed.conversation_id, frames)
                            }
                            Found::New(preview) => {
                                v.pending = true;
                                let greeting = preview.greeting.map(|g| ServerFrame::Message {
                                    agent_name: None,
                                    id: g.id.to_string(),
                                    from: party_name(Party::Bot),
                                    text: g.text,
                                    at: tandem_sdk::model::now()
                                        .format(&Rfc3339)
                                        .unwrap_or_default(),
                                    buttons: Vec::new(),
                                });
                                (preview.conversation_id, greeting.into_iter().collect())
                            }
                        };
                        let welcome = ServerFrame::Welcome {
                            session: state.sessions.issue(&v.subject),
                            conversation_id: conversation_id.to_string(),
                            verified: v.verified,
                        };
                        let _ = tx.send(welcome).await;
                        for frame in frames {
                            let _ = tx.send(frame).await;
                        }
                        debug!(channel.id = %state.sink.channel(), "Web chat session started.");
                        visitor = Some((v, id));
                    }
                    Err(e) => {
                        let _ = tx
                            .send(ServerFrame::error("unavailable", "try again shortly"))
                            .await;
                        debug!(error = %e, "Resume failed.");
                    }
                }
            }
            (ClientFrame::Hello { .. }, Some(_)) => {
                let _ = tx
                    .send(ServerFrame::error(
                        "already_greeted",
                        "hello was already received",
                    ))
                    .await;
            }
            (_, None) => {
                let _ = tx
                    .send(ServerFrame::error(
                        "hello_required",
                        "send a hello frame first",
                    ))
                    .await;
            }
            (ClientFrame::Message { id, text, media }, Some((v, _))) => {
                let content = match media {
                    None => Content::Text { text },
                    Some(token) => match state
                        .sessions
                        .verify_upload(&token)
                        .filter(|u| u.subject == v.subject)
                    {
                        Some(upload) => Content::Media {
                            kind: media_kind(&upload.mime_type),
                            reference: upload.reference,
                            mime_type: Some(upload.mime_type),
                            caption: Some(text).filter(|t| !t.trim().is_empty()),
                        },
                        None => {
                            let _ = tx
                                .send(ServerFrame::error(
                                    "bad_frame",
                                    "media must be an upload token of this session",
                                ))
                                .await;
                            continue;
                        }
                    },
                };
                if within_limits(&state, &tx, Some(&*v), address).await {
                    accept(&state, &tx, v, id, content).await;
                }
            }
            (ClientFrame::Postback { id, payload, title }, Some((v, _))) => {
                if within_limits(&state, &tx, Some(&*v), address).await {
                    accept(&state, &tx, v, id, Content::Postback { payload, title }).await;
                }
            }
            (ClientFrame::Typing {}, Some(_)) => {}
        }
    }
    if let Some((v, id)) = visitor {
        state.hub.unregister(&v.subject, id);
    }
    drop(tx);
    drop(close_tx);
    let _ = writer.await;
}

/// A transcript entry replayed on resume. Customer messages come back under the id the
/// client chose, so the widget recognises what it already shows.
fn history_frame(entry: TranscriptEntry, own_prefix: &str) -> ServerFrame {
    let content = entry.outbound_content();
    let id = entry
        .platform_message_id
        .as_ref()
        .and_then(|p| p.as_str().strip_prefix(own_prefix))
        .map_or_else(|| entry.id.to_string(), str::to_owned);
    ServerFrame::Message {
        agent_name: None,
        id,
        from: party_name(entry.from),
        text: content.text,
        at: entry.at.format(&Rfc3339).unwrap_or_default(),
        buttons: content
            .buttons
            .into_iter()
            .map(|b| ButtonFrame {
                title: b.title,
                payload: b.payload,
            })
            .collect(),
    }
}

/// Takes a token from the visitor's session bucket (when there is a visitor) and from
/// its address's bucket; when either is empty the client gets `rate_limited` and nothing
/// is recorded (nor acknowledged).
async fn within_limits(
    state: &WsState,
    tx: &mpsc::Sender<ServerFrame>,
    v: Option<&Visitor>,
    address: Option<IpAddr>,
) -> bool {
    let scope = if v.is_some_and(|v| !state.session_limits.check(&v.subject)) {
        "session"
    } else if address.is_some_and(|a| !state.address_limits.check(&a)) {
        "address"
    } else {
        return true;
    };
    state.sink.rate_limited(scope);
    let _ = tx
        .send(ServerFrame::error(
            "rate_limited",
            "too many messages; send it again shortly with the same id",
        ))
        .await;
    false
}

async fn too_large(tx: &mpsc::Sender<ServerFrame>, close_tx: &mpsc::Sender<CloseFrame>) {
    let _ = tx
        .send(ServerFrame::error(
            "frame_too_large",
            format!("frames are limited to {MAX_FRAME_BYTES} bytes"),
        ))
        .await;
    let _ = close_tx
        .send(CloseFrame {
            code: close_code::SIZE,
            reason: "frame too large".into(),
        })
        .await;
}

fn frame_error_message(code: &str, e: &serde_json::Error) -> String {
    match code {
        "bad_json" => "frame is not valid JSON".to_owned(),
        "unknown_type" => {
            "unknown frame type (expected hello, message, postback or typing)".to_owned()
        }
        // serde's message names the missing or mistyped field, never user content.
        _ => format!("invalid frame: {e}"),
    }
}

/// Who the visitor is (see `identity.rs`): a verified user, or an anonymous visitor
/// who keeps their id across reconnects through the session token.
fn identify(
    state: &WsState,
    session: Option<&str>,
    user: Option<User>,
    user_hash: Option<&str>,
    user_token: Option<&str>,
) -> Visitor {
    let secret = state
        .config
        .identity_secret
        .as_ref()
        .map(|s| s.expose().as_bytes());
    // An anonymous visitor keeps the subject its session token signs.
    let known = session
        .and_then(|token| state.sessions.verify(token))
        .filter(|s| s.starts_with("anon:"));
    let identified = crate::identity::identify(
        state.sink.channel().clone(),
        secret,
        user.unwrap_or_default(),
        user_hash,
        user_token,
        || {
            known
                .clone()
                .unwrap_or_else(|| format!("anon:{}", uuid::Uuid::new_v4().simple()))
        },
    );
    let verified = identified.user_subject.is_some();
    Visitor {
        subject: identified.identity.subject.clone(),
        verified,
        pending: false,
        identity: identified.identity,
    }
}

async fn accept(
    state: &WsState,
    tx: &mpsc::Sender<ServerFrame>,
    v: &mut Visitor,
    id: String,
    content: Content,
) {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        let _ = tx
            .send(ServerFrame::error(
                "bad_frame",
                format!("id must be 1 to {MAX_ID_LEN} characters"),
            ))
            .await;
        return;
    }
    if v.pending {
        // The first message: the customer, the conversation (with the id the welcome
        // announced) and the greeting are created before the message is recorded, so the
        // transcript reads greeting, then message.
        match state.sink.resume(v.identity.clone(), 0).await {
            Ok(_) => v.pending = false,
            Err(e) => {
                debug!(error = %e, "Creating a web chat visitor's records failed.");
                let _ = tx
                    .send(ServerFrame::error(
                        "unavailable",
                        "not recorded; send it again with the same id",
                    ))
                    .await;
                return;
            }
        }
    }
    let msg = InboundMessage {
        channel: state.sink.channel().clone(),
        // Client ids are only unique per visitor.
        platform_message_id: PlatformMessageId::new(format!("{}/{}", v.subject, id)),
        sender: v.identity.clone(),
        sent_at: tandem_sdk::model::now(),
        content,
    };
    match state.sink.accept(msg).await {
        Ok(_) => {
            let _ = tx.send(ServerFrame::Ack { id }).await;
        }
        Err(InboundError::Rejected(reason)) => {
            let _ = tx.send(ServerFrame::error("rejected", reason)).await;
        }
        Err(InboundError::Unavailable(_)) => {
            let _ = tx
                .send(ServerFrame::error(
                    "unavailable",
                    "not recorded; send it again with the same id",
                ))
                .await;
        }
    }
}
