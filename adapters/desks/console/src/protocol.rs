//! The console's WebSocket frames (JSON text, one object each, with a `type`).
//!
//! Agent → server: `hello` (who the agent is; may carry the token when the URL did not),
//! `accept`, `resolve`, `release` and `message`, each with the agent's own action `id`;
//! `draft.decide` (approve, edit or reject a draft, see `tandem_core::drafts`) and
//! `drafts` (list the pending drafts again).
//! Server → agent: `snapshot` (open handoffs and pending drafts), `handoff`, `closed`,
//! `draft.created`, `draft.decided`, `drafts`, `ack` and `error`.

use serde::Deserialize;
use serde_json::{Value, json};
use tandem_sdk::handoff::Agent;
use tandem_sdk::{DraftUpdate, DraftView};

/// Longest action id, agent id or handoff id accepted.
pub(crate) const MAX_ID_LEN: usize = 200;

/// A frame from an agent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum ClientFrame {
    Hello {
        /// Who the agent is (shared-token connections); ignored when signed in.
        #[serde(default)]
        agent: Option<AgentFrame>,
        #[serde(default)]
        token: Option<String>,
    },
    Accept {
        handoff_id: String,
        id: String,
    },
    Resolve {
        handoff_id: String,
        id: String,
    },
    Release {
        handoff_id: String,
        id: String,
    },
    Message {
        handoff_id: String,
        id: String,
        #[serde(default)]
        text: String,
        /// An image or file uploaded with `POST /console/api/upload` (or any http(s)
        /// URL), sent with `text` as its caption.
        #[serde(default)]
        media: Option<tandem_sdk::model::OutboundMedia>,
    },
    /// Decides a draft: `decision` is `approve`, `edit` (with `text`) or `reject`.
    #[serde(rename = "draft.decide")]
    DraftDecide {
        conversation: String,
        draft: String,
        decision: DraftChoice,
        #[serde(default)]
        text: Option<String>,
        /// The agent's action id, echoed in the `ack` (the draft id when absent).
        #[serde(default)]
        id: Option<String>,
    },
    /// Asks for the pending drafts (answered with a `drafts` frame).
    Drafts,
    /// Hands the handoff to another agent (`to_agent`) or back to a queue (`to_queue`).
    Transfer {
        handoff_id: String,
        id: String,
        #[serde(default)]
        to_agent: Option<AgentFrame>,
        #[serde(default)]
        to_queue: Option<String>,
    },
}

/// What an agent decides about a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DraftChoice {
    Approve,
    Edit,
    Reject,
}

/// The agent an agent says they are.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentFrame {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// A problem with a frame, reported as an `error` frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrameError {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl FrameError {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl ClientFrame {
    /// Parses and checks one text frame.
    pub(crate) fn parse(text: &str) -> Result<Self, FrameError> {
        let frame: Self = serde_json::from_str(text)
            .map_err(|e| FrameError::new("bad_frame", format!("not a console frame: {e}")))?;
        frame.check()?;
        Ok(frame)
    }

    fn check(&self) -> Result<(), FrameError> {
        let ids: Vec<(&str, &str)> = match self {
            Self::Hello { agent, .. } => {
                agent.iter().map(|a| ("agent.id", a.id.as_str())).collect()
            }
            Self::Drafts => Vec::new(),
            Self::DraftDecide {
                conversation,
                draft,
                id,
                ..
            } => {
                let mut ids = vec![
                    ("conversation", conversation.as_str()),
                    ("draft", draft.as_str()),
                ];
                ids.extend(id.as_deref().map(|id| ("id", id)));
                ids
            }
            Self::Accept { handoff_id, id }
            | Self::Resolve { handoff_id, id }
            | Self::Release { handoff_id, id }
            | Self::Message { handoff_id, id, .. }
            | Self::Transfer { handoff_id, id, .. } => {
                vec![("handoff_id", handoff_id.as_str()), ("id", id.as_str())]
            }
        };
        for (name, value) in ids {
            if value.trim().is_empty() {
                return Err(FrameError::new("bad_frame", format!("{name} is empty")));
            }
            if value.len() > MAX_ID_LEN {
                return Err(FrameError::new(
                    "bad_frame",
                    format!("{name} is longer than {MAX_ID_LEN} bytes"),
                ));
            }
        }
        if let Self::Hello {
            agent: Some(agent), ..
        } = self
            && agent.name.as_ref().is_some_and(|n| n.len() > MAX_ID_LEN)
        {
            return Err(FrameError::new("bad_frame", "agent.name is too long"));
        }
        if let Self::Message {
            text, media: None, ..
        } = self
            && text.trim().is_empty()
        {
            return Err(FrameError::new("empty_text", "the message has no text"));
        }
        if let Self::DraftDecide { decision, text, .. } = self {
            match (decision, text.as_deref()) {
                (DraftChoice::Edit, None) => {
                    return Err(FrameError::new(
                        "empty_text",
                        "an edit carries the edited text",
                    ));
                }
                (DraftChoice::Edit, Some(t)) if t.trim().is_empty() => {
                    return Err(FrameError::new(
                        "empty_text",
                        "an edit carries the edited text",
                    ));
                }
                (DraftChoice::Approve | DraftChoice::Reject, Some(_)) => {
                    return Err(FrameError::new(
                        "bad_frame",
                        "only an edit carries text; approve sends the draft as it is",
                    ));
                }
                _ => {}
            }
        }
        if let Self::Message { media: Some(m), .. } = self
            && !(m.url.starts_with("https://") || m.url.starts_with("http://"))
        {
            return Err(FrameError::new(
                "bad_frame",
                "media.url must be an http(s) URL",
            ));
        }
        if let Self::Transfer {
            to_agent, to_queue, ..
        } = self
        {
            let agent_ok = to_agent
                .as_ref()
                .is_some_and(|a| !a.id.trim().is_empty() && a.id.len() <= MAX_ID_LEN);
            let queue_ok = to_queue
                .as_ref()
                .is_some_and(|q| !q.trim().is_empty() && q.len() <= MAX_ID_LEN);
            if !agent_ok && !queue_ok {
                return Err(FrameError::new(
                    "bad_frame",
                    "a transfer names to_agent.id or to_queue",
                ));
            }
        }
        Ok(())
    }

    /// The client action id, for frames that carry one.
    pub(crate) fn action_id(&self) -> Option<&str> {
        match self {
            Self::Hello { .. } | Self::Drafts => None,
            Self::DraftDecide { id, draft, .. } => Some(id.as_deref().unwrap_or(draft.as_str())),
            Self::Accept { id, .. }
            | Self::Resolve { id, .. }
            | Self::Release { id, .. }
            | Self::Message { id, .. }
            | Self::Transfer { id, .. } => Some(id),
        }
    }
}

impl AgentFrame {
    pub(crate) fn into_agent(self) -> Agent {
        Agent {
            id: self.id,
            name: self.name.filter(|n| !n.trim().is_empty()),
        }
    }
}

pub(crate) fn snapshot(handoffs: Vec<Value>, drafts: &[DraftView]) -> String {
    json!({"type": "snapshot", "handoffs": handoffs, "drafts": drafts}).to_string()
}

/// The pending drafts, oldest first.
pub(crate) fn drafts(drafts: &[DraftView]) -> String {
    json!({"type": "drafts", "drafts": drafts}).to_string()
}

/// A draft was created (`draft.created`), or decided or withdrawn (`draft.decided`, with
/// `state` `approved`, `edited`, `rejected` or `withdrawn`, the agent and the text sent).
pub(crate) fn draft_update(update: &DraftUpdate) -> String {
    if update.state == "pending" {
        json!({"type": "draft.created", "draft": update.draft}).to_string()
    } else {
        json!({
            "type": "draft.decided",
            "conversation_id": update.draft.conversation_id,
            "draft_id": update.draft.draft_id,
            "state": update.state,
            "agent": update.agent,
            "text": update.final_text,
            "at": update.at,
        })
        .to_string()
    }
}

pub(crate) fn handoff(view: Value) -> String {
    json!({"type": "handoff", "handoff": view}).to_string()
}

pub(crate) fn closed(handoff_id: &str) -> String {
    json!({"type": "closed", "handoff_id": handoff_id}).to_string()
}

/// Who the connection acts as (sent first on a signed-in connection).
pub(crate) fn me(agent: &Agent) -> String {
    json!({"type": "me", "agent": agent}).to_string()
}

pub(crate) fn ack(id: &str) -> String {
    json!({"type": "ack", "id": id}).to_string()
}

/// An `error` frame; `id` names the action it answers, when there is one.
pub(crate) fn error(code: &str, message: &str, id: Option<&str>) -> String {
    let mut v = json!({"type": "error", "code": code, "message": message});
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v.to_string()
}

/// Fuzz targets of the agent frame parser (`TANDEM_FUZZ_CASES`, see `docs/SECURITY.md`).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use tandem_testkit::fuzz;

    const KEYS: &[&str] = &[
        "type",
        "agent",
        "id",
        "name",
        "token",
        "handoff_id",
        "text",
        "to_agent",
        "to_queue",
        "hello",
        "accept",
        "resolve",
        "release",
        "message",
        "transfer",
        "draft.decide",
        "drafts",
        "conversation",
        "draft",
        "decision",
        "approve",
        "edit",
        "reject",
    ];
    const SEED: &[u8] = br#"{"type":"transfer","handoff_id":"ho_1","id":"a1","to_agent":{"id":"bea","name":"Bea"},"to_queue":"billing"}"#;

    proptest! {
        #![proptest_config(fuzz::config())]

        #[test]
        fn fuzz_frame_parser_never_panics_on_text(text in ".{0,512}") {
            let _ = ClientFrame::parse(&text);
        }

        #[test]
        fn fuzz_frame_parser_never_panics_on_shaped_json(v in fuzz::json_with_keys(KEYS)) {
            let _ = ClientFrame::parse(&v.to_string());
        }

        #[test]
        fn fuzz_frame_parser_never_panics_on_mutated_frames(bytes in fuzz::mutated(SEED)) {
            let _ = ClientFrame::parse(&String::from_utf8_lossy(&bytes));
        }
    }
}
