//! `GET /console` (the page) and `GET /console/ws` (the agents' WebSocket).

use crate::protocol::{self, ClientFrame, FrameError};
use crate::state::{Action, ActionError, Refusal};
use crate::{MAX_FRAME_BYTES, Shared, now};
use axum::Router;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tandem_sdk::handoff::Agent;
use tandem_sdk::{DeskAnswer, DeskEvent, DeskEventKind, InboundError, TransferTarget};
use tokio::sync::broadcast::error::RecvError;
use tracing::debug;

const CONSOLE_HTML: &str = include_str!("../assets/console.html");

/// Hard limit of the WebSocket layer; frames between [`MAX_FRAME_BYTES`] and this get a
/// polite `frame_too_large`, larger ones end the connection at the protocol level.
const HARD_FRAME_LIMIT: usize = 2 * MAX_FRAME_BYTES;

/// How long a connection without a token in its URL may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/console", get(page))
        .route("/console/ws", get(upgrade))
        .with_state(shared)
}

async fn page() -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Html(CONSOLE_HTML)).into_response()
}

async fn upgrade(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let authed = match query.get("token") {
        Some(t) if shared.config.accepts(t) => true,
        Some(_) => return (StatusCode::UNAUTHORIZED, "invalid console token").into_response(),
        None => false,
    };
    match ws {
        // Small buffers like web chat's. The per-socket queue is bounded too: live
        // changes come from one broadcast ring (256 frames); a socket that falls behind
        // gets a fresh snapshot instead of a backlog.
        Ok(ws) => tandem_sdk::http::small_websocket(ws, HARD_FRAME_LIMIT)
            .on_upgrade(move |socket| session(shared, socket, authed)),
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
    match shared.store.open_handoffs().await {
        Ok(list) => protocol::snapshot(list.iter().map(|r| r.view()).collect()),
        Err(e) => {
            debug!(error = %e, "Console snapshot unavailable.");
            protocol::error("unavailable", "the queue is unavailable; reconnect", None)
        }
    }
}

async fn session(shared: Arc<Shared>, socket: WebSocket, mut authed: bool) {
    let (mut sink, mut stream) = socket.split();
    // Subscribe before reading the snapshot, so no change falls in between.
    let mut live = shared.live.subscribe();
    if authed && !send(&mut sink, snapshot(&shared).await).await {
        return;
    }
    let mut agent: Option<Agent> = None;
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
                        Ok(ClientFrame::Hello { agent: who, token }) => {
                            if !authed {
                                if token.as_deref().is_some_and(|t| shared.config.accepts(t)) {
                                    authed = true;
                                } else {
                                    let _ = send(&mut sink, protocol::error("unauthorized", "a valid console token is required", None)).await;
                                    close(&mut sink, close_code::POLICY, "unauthorized").await;
                                    return;
                                }
                                agent = Some(who.into_agent());
                                snapshot(&shared).await
                            } else {
                                agent = Some(who.into_agent());
                                continue;
                            }
                        }
                        Ok(frame) => match (&agent, authed) {
                            (Some(a), true) => act(&shared, a, frame).await,
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
async fn act(shared: &Shared, agent: &Agent, frame: ClientFrame) -> String {
    let (handoff_id, id, kind, action) = match frame {
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
        } => (
            handoff_id,
            id,
            DeskEventKind::AgentMessage { text: text.clone() },
            Action::Message(text),
        ),
        ClientFrame::Transfer {
            handoff_id,
            id,
            to_agent,
            to_queue,
        } => {
            let to = match (to_agent, to_queue) {
                (Some(a), _) if !a.id.trim().is_empty() => TransferTarget::Agent(a.into_agent()),
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
        Ok(change) => shared.push(&change),
        // The core has the action; only the console's copy of it is behind.
        Err(e) => debug!(error = %e, "Console record not updated after an agent action."),
    }
    protocol::ack(&id)
}

fn unavailable(e: &InboundError, id: &str) -> String {
    debug!(error = %e, "Console action not recorded.");
    protocol::error("unavailable", "not recorded; send it again", Some(id))
}
