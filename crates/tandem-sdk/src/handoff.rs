//! The handoff contract, version 1: the documents Tandem sends to agent desks and the
//! events desks send back (docs/INTERFACE.md, "Handoff webhook contract"). The generic
//! webhook desk posts these bodies verbatim; the Slack and Chatwoot desks render them.
//! `docs/handoff-v1.schema.json` is the published JSON Schema; every body Tandem emits is
//! tested against it.
//!
//! This is a wire format: fields are only ever added, never renamed or removed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The contract version carried in every body.
pub const VERSION: &str = "1";

/// `handoff.requested`: a conversation needs a human.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffRequested {
    /// Always [`VERSION`].
    pub version: String,
    /// Always `handoff.requested`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Stable id of the handoff (idempotency key for `open`).
    pub handoff_id: String,
    /// The conversation handed off.
    pub conversation_id: String,
    /// RFC 3339.
    pub created_at: String,
    /// The channel the customer last wrote on (replies go there).
    pub channel: String,
    /// Who the customer is.
    pub customer: Customer,
    /// Why the handoff happened.
    pub reason: Reason,
    /// The three-second briefing.
    pub summary: Summary,
    /// The reply channel's messaging window.
    pub window: Window,
    /// The newest part of the conversation, oldest first (bounded).
    pub transcript: Vec<TranscriptLine>,
}

/// The customer, as known across channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// Tandem's customer id.
    pub id: String,
    /// Display name, when known.
    pub display_name: Option<String>,
    /// Segment (`vip`, `free`, ...), when set.
    pub segment: Option<String>,
    /// Free-form attributes.
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Every channel identity of the customer.
    pub identities: Vec<Identity>,
}

/// One channel identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// Channel instance.
    pub channel: String,
    /// The customer's id on that channel.
    pub external_id: String,
    /// Whether the platform verified it.
    pub verified: bool,
}

/// The escalation decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Chosen category (`legal`, `revenue`, ...), when any.
    pub category: Option<String>,
    /// `immediate`, `high`, `medium` or `low`.
    pub priority: String,
    /// Target queue.
    pub target: String,
    /// Every trigger that fired.
    pub triggers: Vec<Trigger>,
}

/// One fired trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Trigger code (`keyword`, `sentiment_streak`, ...).
    pub code: String,
    /// What fired it.
    pub evidence: String,
}

/// The briefing an agent reads before typing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// What the customer wants (KB intent or category).
    pub intent: Option<String>,
    /// What the bot already tried (answers given, buttons offered).
    pub attempted: Vec<String>,
    /// Where it stalled (the last unresolved question).
    pub status: String,
    /// Sentiment trend: `positive`, `neutral`, `negative` or `worsening`.
    pub sentiment: String,
    /// A short text summary.
    pub text: String,
}

/// A messaging window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Whether free-form messages can be sent now.
    pub open: bool,
    /// When it closes (RFC 3339), for channels with a window.
    pub expires_at: Option<String>,
}

/// One line of transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// `customer`, `bot`, `agent` or `system`.
    pub from: String,
    /// Channel instance.
    pub channel: String,
    /// RFC 3339.
    pub at: String,
    /// Text (non-text content is described, e.g. `[image https://…/media/…] caption`).
    pub text: String,
    /// The image, file, audio or video the customer sent, when the line is one: its
    /// signed, short-lived Tandem link (also in `text`, for desks that show text only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaLink>,
}

/// Media in a transcript line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaLink {
    /// `image`, `document`, `audio`, `video` or `sticker`.
    pub kind: String,
    /// The signed Tandem link serving it (`GET /media/{token}`), valid for
    /// `[media] link_ttl_secs` from the delivery; absent when media links are off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its MIME type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The caption typed with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Inside Tandem only (the outbox): the platform's reference the link is minted
    /// from when the line is delivered. Always removed before a desk sees the line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// `handoff.message`: a later customer message for the desk thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffMessage {
    /// Always [`VERSION`].
    pub version: String,
    /// Always `handoff.message`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The handoff.
    pub handoff_id: String,
    /// The conversation.
    pub conversation_id: String,
    /// The message.
    pub message: TranscriptLine,
}

/// `handoff.closed`: the handoff ended on Tandem's side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffClosed {
    /// Always [`VERSION`].
    pub version: String,
    /// Always `handoff.closed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The handoff.
    pub handoff_id: String,
    /// The conversation.
    pub conversation_id: String,
    /// `resolved`, `released`, `timed_out` or `rerouted` (moved to a queue served by another desk).
    pub reason: String,
}

/// `handoff.updated`: routing changed an open handoff: it was assigned to an agent
/// (`change: "assigned"`), or moved to another queue after its SLA passed without an
/// agent accepting (`change: "rerouted"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffUpdated {
    /// Always [`VERSION`].
    pub version: String,
    /// Always `handoff.updated`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The handoff.
    pub handoff_id: String,
    /// The conversation.
    pub conversation_id: String,
    /// `assigned` or `rerouted`.
    pub change: String,
    /// The queue (target) the handoff is in now.
    #[serde(default)]
    pub target: Option<String>,
    /// Its priority.
    #[serde(default)]
    pub priority: Option<String>,
    /// The agent routing chose (`assigned`); `None` after a re-route until someone is.
    #[serde(default)]
    pub assignee: Option<Agent>,
    /// When it changed, RFC 3339.
    pub at: String,
}

/// An event a desk sends back (`POST /desks/webhook/events` for the generic desk).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeskEventBody {
    /// `handoff.accepted`, `agent.message`, `handoff.resolved`, `handoff.released` or
    /// `handoff.transferred`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The handoff.
    pub handoff_id: String,
    /// The agent acting.
    #[serde(default)]
    pub agent: Option<Agent>,
    /// The agent's text (`agent.message`).
    #[serde(default)]
    pub text: Option<String>,
    /// The desk's own id of this event, stable across its retries (recommended): Tandem
    /// deduplicates on it. Without it, on the signed timestamp and the body's digest.
    #[serde(default)]
    pub event_id: Option<String>,
    /// `handoff.transferred`: the agent who takes the handoff over.
    #[serde(default)]
    pub to_agent: Option<Agent>,
    /// `handoff.transferred`: the queue the handoff goes back to.
    #[serde(default)]
    pub to_queue: Option<String>,
}

/// An agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// The desk's id for the agent.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}
