//! `POST /desks/chatwoot/webhook`: Chatwoot's webhooks (account webhook or API-inbox
//! `webhook_url`). Verified with `webhook_secret` (unsigned only with `allow_unsigned`);
//! deduplicated on what the signature covers: the message id (message events), or the
//! event, conversation and signed timestamp (status and assignment events). The unsigned
//! `X-Chatwoot-Delivery` header is not used: a captured webhook replayed with another
//! delivery id has no second effect.
//!
//! - `message_created`, `message_type` "outgoing", not private, sent by a user (an agent)
//!   → an agent message for the conversation's handoff. Private notes are never relayed;
//!   incoming messages (the customer's, including the ones Tandem posts) and messages whose
//!   id Tandem remembers as its own are dropped.
//! - `conversation_status_changed` (or the agent-bot `conversation_resolved`) with status
//!   "resolved" → resolved (back to the bot, CSAT).
//! - `conversation_updated` with an assignee (when the assignee changed) → accepted.

use crate::config::ChatwootDeskConfig;
use crate::refs::Refs;
use crate::verify::{self, Refusal};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use tandem_sdk::handoff::Agent;
use tandem_sdk::lenient;
use tandem_sdk::{
    DeskAnswer, DeskEvent, DeskEventKind, DeskEventSink, InboundError, TransferTarget,
};
use tracing::{debug, warn};

/// What the webhook route shares.
#[derive(Clone)]
pub(crate) struct Inbound {
    pub(crate) config: Arc<ChatwootDeskConfig>,
    pub(crate) sink: DeskEventSink,
    pub(crate) refs: Refs,
    pub(crate) api: crate::api::ChatwootApi,
}

/// The fields of a webhook the desk reads (message events and conversation events).
/// Lenient: ids as numbers or strings, any field of an unexpected shape read as absent;
/// a webhook the desk cannot use is acknowledged, never refused.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Hook {
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) event: String,
    /// The message id (message events) or the conversation's display id (conversation events).
    #[serde(deserialize_with = "lenient::id_number")]
    pub(crate) id: Option<u64>,
    /// A string at the top level ("outgoing"); tolerated as an integer too (1).
    pub(crate) message_type: Option<Value>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) private: Option<bool>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) content: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) sender: Option<Person>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) conversation: Option<ConversationRef>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) status: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) meta: Option<Meta>,
    pub(crate) changed_attributes: Option<Value>,
}

/// A sender or assignee.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Person {
    #[serde(deserialize_with = "lenient::id_number")]
    pub(crate) id: Option<u64>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) name: Option<String>,
    #[serde(rename = "type", deserialize_with = "lenient::or_default")]
    pub(crate) kind: Option<String>,
}

/// The conversation of a message event (its display id; absent in some webhooks).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ConversationRef {
    #[serde(deserialize_with = "lenient::id_number")]
    pub(crate) id: Option<u64>,
}

/// Conversation `meta`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Meta {
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) assignee: Option<Person>,
}

/// What a webhook means for the desk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// An agent wrote to the customer.
    AgentMessage {
        conversation: u64,
        message_id: u64,
        text: String,
        agent: Option<Agent>,
    },
    /// The conversation was resolved.
    Resolved {
        conversation: u64,
        agent: Option<Agent>,
    },
    /// An agent was assigned.
    Accepted { conversation: u64, agent: Agent },
    /// Nothing to do.
    Ignore(&'static str),
}

impl Outcome {
    fn conversation(&self) -> Option<u64> {
        match self {
            Outcome::AgentMessage { conversation, .. }
            | Outcome::Resolved { conversation, .. }
            | Outcome::Accepted { conversation, .. } => Some(*conversation),
            Outcome::Ignore(_) => None,
        }
    }
}

fn agent_of(p: &Person) -> Option<Agent> {
    p.id.map(|id| Agent {
        id: id.to_string(),
        name: p.name.clone(),
    })
}

fn is_outgoing(v: Option<&Value>) -> bool {
    match v {
        Some(Value::String(s)) => s == "outgoing",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}

/// Decides what a webhook means.
pub(crate) fn classify(hook: Hook) -> Outcome {
    match hook.event.as_str() {
        "message_created" => {
            if hook.private == Some(true) {
                return Outcome::Ignore("private note");
            }
            if !is_outgoing(hook.message_type.as_ref()) {
                return Outcome::Ignore("not an outgoing message");
            }
            let Some(sender) = hook.sender.filter(|s| s.kind.as_deref() == Some("user")) else {
                return Outcome::Ignore("not sent by an agent");
            };
            let (Some(conversation), Some(message_id)) =
                (hook.conversation.and_then(|c| c.id), hook.id)
            else {
                return Outcome::Ignore("no conversation or message id");
            };
            let Some(text) = hook.content.filter(|t| !t.trim().is_empty()) else {
                return Outcome::Ignore("no text");
            };
            Outcome::AgentMessage {
                conversation,
                message_id,
                text,
                agent: agent_of(&sender),
            }
        }
        "conversation_status_changed" | "conversation_resolved" => {
            let Some(conversation) = hook.id else {
                return Outcome::Ignore("no conversation id");
            };
            if hook.status.as_deref() != Some("resolved") {
                return Outcome::Ignore("status is not resolved");
            }
            Outcome::Resolved {
                conversation,
                agent: hook
                    .meta
                    .and_then(|m| m.assignee)
                    .as_ref()
                    .and_then(agent_of),
            }
        }
        "conversation_updated" => {
            let Some(conversation) = hook.id else {
                return Outcome::Ignore("no conversation id");
            };
            let assignee_changed = hook
                .changed_attributes
                .as_ref()
                .is_none_or(|c| c.to_string().contains("\"assignee_id\""));
            if !assignee_changed {
                return Outcome::Ignore("assignee unchanged");
            }
            match hook
                .meta
                .and_then(|m| m.assignee)
                .as_ref()
                .and_then(agent_of)
            {
                Some(agent) => Outcome::Accepted {
                    conversation,
                    agent,
                },
                None => Outcome::Ignore("no assignee"),
            }
        }
        _ => Outcome::Ignore("event not used"),
    }
}

pub(crate) fn routes(state: Inbound) -> Router {
    Router::new()
        .route("/desks/chatwoot/webhook", axum::routing::post(receive))
        .layer(tandem_sdk::http::body_limit(
            tandem_sdk::http::DESK_EVENT_MAX_BODY,
        ))
        .with_state(state)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    tandem_sdk::http::json_error(status, code, message)
}

fn submit_failed(e: InboundError) -> Response {
    match e {
        InboundError::Rejected(reason) => error(StatusCode::BAD_REQUEST, "rejected", &reason),
        InboundError::Unavailable(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "not recorded; send it again",
        ),
    }
}

async fn receive(State(st): State<Inbound>, headers: HeaderMap, body: Bytes) -> Response {
    let secret = st.config.webhook_secret.expose();
    // The signed timestamp (0 on an unsigned desk, `allow_unsigned`).
    let mut signed_at = 0;
    if !secret.is_empty() {
        match verify::verify(secret.as_bytes(), &headers, &body, verify::now_secs()) {
            Ok(ts) => signed_at = ts,
            Err(why) => {
                warn!(reason = ?why, "Refused an unsigned or badly signed Chatwoot webhook.");
                let message = match why {
                    Refusal::Missing => "missing X-Chatwoot-Signature or X-Chatwoot-Timestamp",
                    Refusal::Stale => "X-Chatwoot-Timestamp outside the five-minute window",
                    Refusal::Mismatch => "X-Chatwoot-Signature does not match",
                };
                return error(StatusCode::UNAUTHORIZED, "bad_signature", message);
            }
        }
    }
    let hook: Hook = match serde_json::from_slice(&body) {
        Ok(h) => h,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_body",
                "not a Chatwoot webhook",
            );
        }
    };
    let outcome = classify(hook);
    let Some(conversation) = outcome.conversation() else {
        if let Outcome::Ignore(why) = outcome {
            debug!(why, "Chatwoot webhook ignored.");
        }
        return StatusCode::OK.into_response();
    };
    if let Outcome::AgentMessage { message_id, .. } = &outcome {
        match st.refs.is_own_message(*message_id).await {
            Ok(true) => {
                debug!("Chatwoot webhook for a message Tandem posted; ignored.");
                return StatusCode::OK.into_response();
            }
            Ok(false) => {}
            Err(e) => return submit_failed(e),
        }
    }
    let handoff_id = match st.refs.handoff_of(conversation).await {
        Ok(Some(h)) => h,
        Ok(None) => {
            debug!("Chatwoot webhook for a conversation that is not a handoff; ignored.");
            return StatusCode::OK.into_response();
        }
        Err(e) => return submit_failed(e),
    };
    let (key, kind, agent) = match outcome {
        Outcome::AgentMessage {
            message_id,
            text,
            agent,
            ..
        } => (
            format!("message:{message_id}"),
            DeskEventKind::AgentMessage { text },
            agent,
        ),
        Outcome::Resolved { agent, .. } => (
            format!("resolved:{conversation}:{signed_at}"),
            DeskEventKind::Resolved,
            agent,
        ),
        Outcome::Accepted { agent, .. } => (
            format!("assigned:{conversation}:{}:{signed_at}", agent.id),
            DeskEventKind::Accepted,
            Some(agent),
        ),
        Outcome::Ignore(_) => return StatusCode::OK.into_response(),
    };
    let assigned = matches!(kind, DeskEventKind::Accepted)
        .then(|| agent.clone())
        .flatten();
    let event = DeskEvent {
        handoff_id: handoff_id.clone(),
        kind,
        agent,
    };
    let refusal = match st.sink.submit(&key, event).await {
        Ok(DeskAnswer::Recorded(a)) => {
            debug!(duplicate = a.duplicate, "Chatwoot agent action recorded.");
            return StatusCode::OK.into_response();
        }
        Ok(DeskAnswer::Refused(r)) => r,
        Err(e) => return submit_failed(e),
    };
    // Reassigned while another agent holds the handoff: Chatwoot allowed the change, so
    // it is a transfer by the desk itself.
    if let Some(to) = assigned {
        let transfer = DeskEvent {
            handoff_id,
            kind: DeskEventKind::Transferred {
                to: TransferTarget::Agent(to),
            },
            agent: None,
        };
        return match st.sink.submit(&format!("transfer:{key}"), transfer).await {
            Ok(_) => StatusCode::OK.into_response(),
            Err(e) => submit_failed(e),
        };
    }
    // Anything else refused: a private note tells the agents; the customer sees nothing.
    let (api, note) = (
        st.api.clone(),
        format!("⚠️ Not sent to the customer: {}", refusal.message),
    );
    let refs = st.refs.clone();
    tokio::spawn(async move {
        match api.message(conversation, &note, "outgoing", true).await {
            Ok(id) => {
                let _ = refs.own_message(id).await;
            }
            Err(error) => debug!(%error, "Posting a refusal note in Chatwoot failed."),
        }
    });
    StatusCode::OK.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Hook {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn agent_reply_is_relayed() {
        let hook = parse(include_str!(
            "../tests/fixtures/webhook_message_created_outgoing_agent.json"
        ));
        assert_eq!(
            classify(hook),
            Outcome::AgentMessage {
                conversation: 345,
                message_id: 5521,
                text: "Hi Lena, I'm Jonas. I've just requested a replacement for order A-1042."
                    .into(),
                agent: Some(Agent {
                    id: "3".into(),
                    name: Some("Jonas Weber".into())
                }),
            }
        );
    }

    #[test]
    fn private_notes_and_incoming_messages_are_never_relayed() {
        let note = parse(include_str!(
            "../tests/fixtures/webhook_message_created_private_note.json"
        ));
        assert_eq!(classify(note), Outcome::Ignore("private note"));
        let incoming = parse(include_str!(
            "../tests/fixtures/webhook_message_created_incoming_to_agent_bot.json"
        ));
        assert_eq!(
            classify(incoming),
            Outcome::Ignore("not an outgoing message")
        );
        let mut bot: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/webhook_message_created_outgoing_agent.json"
        ))
        .unwrap();
        bot["sender"]["type"] = "agent_bot".into();
        assert_eq!(
            classify(serde_json::from_value(bot).unwrap()),
            Outcome::Ignore("not sent by an agent")
        );
    }

    #[test]
    fn resolved_status_returns_to_the_bot() {
        let hook = parse(include_str!(
            "../tests/fixtures/webhook_conversation_status_changed_resolved.json"
        ));
        assert_eq!(
            classify(hook),
            Outcome::Resolved {
                conversation: 345,
                agent: Some(Agent {
                    id: "3".into(),
                    name: Some("Jonas Weber".into())
                }),
            }
        );
        let mut open: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/webhook_conversation_status_changed_resolved.json"
        ))
        .unwrap();
        open["status"] = "open".into();
        assert_eq!(
            classify(serde_json::from_value(open).unwrap()),
            Outcome::Ignore("status is not resolved")
        );
    }

    #[test]
    fn assignment_accepts() {
        let mut v: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/webhook_conversation_status_changed_resolved.json"
        ))
        .unwrap();
        v["event"] = "conversation_updated".into();
        v["changed_attributes"] =
            serde_json::json!([{"assignee_id": {"previous_value": null, "current_value": 3}}]);
        assert!(matches!(
            classify(serde_json::from_value(v.clone()).unwrap()),
            Outcome::Accepted {
                conversation: 345,
                ..
            }
        ));
        v["changed_attributes"] = serde_json::json!([{"labels": {}}]);
        assert_eq!(
            classify(serde_json::from_value(v.clone()).unwrap()),
            Outcome::Ignore("assignee unchanged")
        );
        v["changed_attributes"] = Value::Null;
        v["meta"]["assignee"] = Value::Null;
        assert_eq!(
            classify(serde_json::from_value(v).unwrap()),
            Outcome::Ignore("no assignee")
        );
    }

    #[test]
    fn request_fixtures_match_what_is_sent() {
        // Tandem posts customer messages the way the fixture shows.
        let f: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/create_message_incoming_request.json"
        ))
        .unwrap();
        assert_eq!(f["message_type"], "incoming");
        assert_eq!(f["private"], false);
        let t: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/toggle_status_open_request.json"
        ))
        .unwrap();
        assert!(t["status"].is_string());
        let a: Value =
            serde_json::from_str(include_str!("../tests/fixtures/assign_request.json")).unwrap();
        assert_eq!(a["assignee_id"], 3);
    }
}

/// Fuzz targets of the webhook parser (`TANDEM_FUZZ_CASES`, see `docs/SECURITY.md`).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use tandem_testkit::fuzz;

    const KEYS: &[&str] = &[
        "event",
        "id",
        "message_type",
        "private",
        "content",
        "sender",
        "conversation",
        "status",
        "meta",
        "assignee",
        "changed_attributes",
        "assignee_id",
        "name",
        "type",
        "message_created",
        "conversation_status_changed",
        "conversation_updated",
        "conversation_resolved",
        "outgoing",
        "user",
        "resolved",
    ];
    const SEED: &[u8] =
        include_bytes!("../tests/fixtures/webhook_message_created_outgoing_agent.json");

    fn run(bytes: &[u8]) {
        if let Ok(hook) = serde_json::from_slice::<Hook>(bytes) {
            let _ = classify(hook);
        }
    }

    proptest! {
        #![proptest_config(fuzz::config())]

        #[test]
        fn fuzz_webhook_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
            run(&bytes);
        }

        #[test]
        fn fuzz_webhook_parser_never_panics_on_shaped_json(v in fuzz::json_with_keys(KEYS)) {
            run(v.to_string().as_bytes());
        }

        #[test]
        fn fuzz_webhook_parser_never_panics_on_mutated_fixtures(bytes in fuzz::mutated(SEED)) {
            run(&bytes);
        }
    }
}
