//! Handoffs: a conversation's trip to a human desk and back.
//!
//! Lifecycle: requested → queued → accepted → resolved | released | timed out, every
//! transition recorded with its actor and time in the conversation's state. While a handoff
//! is open the conversation's owner is the queue or the agent, and the bot sends nothing:
//! customer messages go to the desk thread instead.
//!
//! Desk deliveries ride the same durable outbox as customer messages, in the
//! conversation's order (the customer's "a person will reply" notice goes out before the
//! desk is asked, agent replies after the desk had the thread). They are addressed to the
//! pseudo-channel `desk:<id>` and carry the operation as JSON in the message text; the
//! desk target registered under that id (`crate::handoff`) decodes and delivers them.

use crate::intent::BriefingSummary;
use crate::policy::Decision;
use crate::records::{
    AgentRef, ConversationRecord, ConversationState, CustomerRecord, HandoffState, HandoffStatus,
    HandoffTransition, IdentityRecord, NewOutboxEntry, Owner,
};
use serde::{Deserialize, Serialize};
use tandem_model::{
    ChannelId, Content, MessageId, OutboundContent, OutboundMessage, OutboxId, Party, Timestamp,
    TranscriptEntry,
};
use tandem_sdk::DeskOp;
use tandem_sdk::handoff::{
    self, HandoffClosed, HandoffMessage, HandoffRequested, HandoffUpdated, TranscriptLine,
};
use time::format_description::well_known::Rfc3339;

/// The pseudo-channel prefix of desk deliveries in the outbox.
pub const DESK_CHANNEL_PREFIX: &str = "desk:";

/// Transcript lines sent with a handoff (newest kept).
pub const BRIEFING_TRANSCRIPT_LIMIT: usize = 50;

/// The outbox pseudo-channel of a desk instance.
pub fn desk_channel(desk: &str) -> ChannelId {
    ChannelId::new(format!("{DESK_CHANNEL_PREFIX}{desk}"))
}

/// The desk id of a desk pseudo-channel.
pub fn desk_of(channel: &ChannelId) -> Option<&str> {
    channel.as_str().strip_prefix(DESK_CHANNEL_PREFIX)
}

/// What a desk delivery looks like inside the outbox.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", content = "body", rename_all = "snake_case")]
pub(crate) enum DeskOpDoc {
    Open(Box<HandoffRequested>),
    Append(HandoffMessage),
    Close(HandoffClosed),
    Update(HandoffUpdated),
}

/// An outbox entry asking `desk` to perform `op`, in the conversation's order.
pub(crate) fn desk_entry(
    conversation: &ConversationRecord,
    desk: &str,
    op: DeskOp,
    now: Timestamp,
) -> NewOutboxEntry {
    let handoff_id = op.handoff_id().to_owned();
    let doc = match op {
        DeskOp::Open(h) => DeskOpDoc::Open(h),
        DeskOp::Append(m) => DeskOpDoc::Append(m),
        DeskOp::Close(c) => DeskOpDoc::Close(c),
        DeskOp::Update(u) => DeskOpDoc::Update(u),
    };
    NewOutboxEntry {
        message: OutboundMessage {
            outbox_id: OutboxId::generate(),
            channel: desk_channel(desk),
            recipient: handoff_id,
            conversation_id: conversation.id.clone(),
            from: Party::System,
            content: OutboundContent::text(
                serde_json::to_string(&doc).expect("desk operations always serialize"),
            ),
            message_id: MessageId::generate(),
            created_at: now,
        },
        next_attempt_at: now,
    }
}

/// A new handoff for `decision`, sent to `desk`.
pub(crate) fn open(desk: &str, decision: &Decision, now: Timestamp) -> HandoffState {
    HandoffState {
        id: format!("ho_{}", uuid_like()),
        desk: desk.to_owned(),
        status: HandoffStatus::Requested,
        category: decision.category.clone(),
        priority: decision.priority.clone(),
        target: decision.target.clone(),
        agent: None,
        transitions: vec![HandoffTransition {
            status: HandoffStatus::Requested,
            actor: "policy".into(),
            at_ms: ms(now),
        }],
        csat: None,
        sla_breached_at_ms: None,
        assignee: None,
        routing: Vec::new(),
    }
}

/// Moves a handoff to `status`, recording who did it.
pub(crate) fn transition(
    handoff: &mut HandoffState,
    status: HandoffStatus,
    actor: &str,
    now: Timestamp,
) {
    if handoff.status != status {
        handoff.status = status;
        handoff.transitions.push(HandoffTransition {
            status,
            actor: actor.to_owned(),
            at_ms: ms(now),
        });
    }
}

/// The actor name of an agent.
pub(crate) fn agent_actor(agent: Option<&AgentRef>, desk: &str) -> String {
    agent.map_or_else(|| format!("desk:{desk}"), |a| format!("agent:{}", a.id))
}

/// Inputs of the `handoff.requested` document.
pub(crate) struct BriefingParts<'a> {
    pub(crate) handoff: &'a HandoffState,
    pub(crate) conversation: &'a ConversationRecord,
    pub(crate) customer: &'a CustomerRecord,
    pub(crate) identities: &'a [IdentityRecord],
    pub(crate) decision: &'a Decision,
    pub(crate) summary: BriefingSummary,
    pub(crate) transcript: &'a [TranscriptEntry],
    pub(crate) window: handoff::Window,
    pub(crate) now: Timestamp,
}

/// The `handoff.requested` document: the briefing an agent reads in three seconds.
pub(crate) fn requested(p: BriefingParts<'_>) -> HandoffRequested {
    let mut triggers: Vec<handoff::Trigger> = p
        .decision
        .reasons
        .iter()
        .map(|r| handoff::Trigger {
            code: r.code.clone(),
            evidence: r.evidence.clone(),
        })
        .collect();
    if triggers.is_empty() {
        triggers.push(handoff::Trigger {
            code: "human_request".into(),
            evidence: String::new(),
        });
    }
    let skip = p.transcript.len().saturating_sub(BRIEFING_TRANSCRIPT_LIMIT);
    HandoffRequested {
        version: handoff::VERSION.into(),
        kind: "handoff.requested".into(),
        handoff_id: p.handoff.id.clone(),
        conversation_id: p.conversation.id.to_string(),
        created_at: rfc3339(p.now),
        channel: p.conversation.channel.to_string(),
        customer: handoff::Customer {
            id: p.customer.id.to_string(),
            display_name: p.customer.display_name.clone(),
            segment: p.customer.segment.clone(),
            attributes: p.customer.attributes.clone(),
            identities: p
                .identities
                .iter()
                .map(|i| handoff::Identity {
                    channel: i.channel.to_string(),
                    external_id: i.subject.clone(),
                    verified: i.verified,
                })
                .collect(),
        },
        reason: handoff::Reason {
            category: p.decision.category.clone(),
            priority: p
                .decision
                .priority
                .clone()
                .unwrap_or_else(|| "medium".into()),
            target: p
                .decision
                .target
                .clone()
                .unwrap_or_else(|| "support".into()),
            triggers,
        },
        summary: handoff::Summary {
            intent: p.summary.intent,
            attempted: p.summary.attempted,
            status: p.summary.status,
            sentiment: p.summary.sentiment,
            text: p.summary.text,
        },
        window: p.window,
        transcript: p.transcript[skip..].iter().map(line).collect(),
    }
}

/// A later customer message for the desk thread.
pub(crate) fn message(handoff: &HandoffState, entry: &TranscriptEntry) -> HandoffMessage {
    HandoffMessage {
        version: handoff::VERSION.into(),
        kind: "handoff.message".into(),
        handoff_id: handoff.id.clone(),
        conversation_id: entry.conversation_id.to_string(),
        message: line(entry),
    }
}

/// Tandem closed the handoff (timed out).
pub(crate) fn closed(handoff: &HandoffState, conversation: &ConversationRecord) -> HandoffClosed {
    HandoffClosed {
        version: handoff::VERSION.into(),
        kind: "handoff.closed".into(),
        handoff_id: handoff.id.clone(),
        conversation_id: conversation.id.to_string(),
        reason: handoff.status.as_str().into(),
    }
}

/// `handoff.updated` for a routing step of `handoff`.
pub(crate) fn updated(
    handoff: &HandoffState,
    conversation: &ConversationRecord,
    change: &str,
    now: Timestamp,
) -> HandoffUpdated {
    HandoffUpdated {
        version: handoff::VERSION.into(),
        kind: "handoff.updated".into(),
        handoff_id: handoff.id.clone(),
        conversation_id: conversation.id.to_string(),
        change: change.to_owned(),
        target: handoff.target.clone(),
        priority: handoff.priority.clone(),
        assignee: handoff.assignee.as_ref().map(|a| handoff::Agent {
            id: a.id.clone(),
            name: a.name.clone(),
        }),
        at: now.format(&Rfc3339).unwrap_or_default(),
    }
}

/// Whether an outbox text is a desk `open` operation (serde writes the tag first).
pub(crate) fn is_open_op(text: &str) -> bool {
    text.starts_with(r#"{"op":"open""#)
}

fn line(entry: &TranscriptEntry) -> TranscriptLine {
    // Media carries its platform reference until delivery, where `DeskTarget` turns it
    // into a signed link (fresh for its whole TTL however late the desk is reached).
    let media = match &entry.content {
        tandem_model::Content::Media {
            kind,
            reference,
            mime_type,
            caption,
        } => Some(handoff::MediaLink {
            kind: kind.as_str().into(),
            url: None,
            mime_type: mime_type.clone(),
            caption: caption.clone(),
            reference: Some(reference.clone()),
        }),
        _ => None,
    };
    TranscriptLine {
        from: entry.from.as_str().into(),
        channel: entry.channel.to_string(),
        at: rfc3339(entry.at),
        // Media references, edits, orders and other non-text content as a readable line.
        text: entry.content.describe(),
        media,
    }
}

pub(crate) fn rfc3339(t: Timestamp) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub(crate) fn ms(t: Timestamp) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn uuid_like() -> String {
    // Time-ordered and unique: reuse the model's id generator.
    let id = tandem_model::EscalationId::generate();
    id.as_str().trim_start_matches("esc_").to_owned()
}

/// The queue of a handoff whose policy named no target.
pub const DEFAULT_QUEUE: &str = "default";

/// The queue a handoff waits in.
pub fn queue_of(h: &HandoffState) -> &str {
    h.target.as_deref().unwrap_or(DEFAULT_QUEUE)
}

/// The bot owns the conversation again, with fresh counters.
pub(crate) fn return_to_bot(state: &mut ConversationState) {
    state.owner = Owner::Bot;
    state.negative_count = 0;
    state.fallback_count = 0;
    state.handoff_requested = false;
    state.human_offered = false;
    state.offered_choices.clear();
}

/// A transcript entry for a reply in the conversation being planned, at its next seq.
pub(crate) fn reply_entry(
    next: &ConversationRecord,
    from: Party,
    content: &OutboundContent,
    now: Timestamp,
) -> TranscriptEntry {
    TranscriptEntry {
        id: MessageId::generate(),
        conversation_id: next.id.clone(),
        customer_id: next.customer_id.clone(),
        seq: next.next_seq,
        from,
        channel: next.channel.clone(),
        at: now,
        content: Content::Text {
            text: crate::shape::transcript_text(content),
        },
        buttons: content.buttons.clone(),
        platform_message_id: None,
    }
}

/// A System line of the transcript at `conv`'s next seq (a check-in, a business event's
/// note, an SLA note).
pub(crate) fn system_entry(
    conv: &ConversationRecord,
    text: &str,
    now: Timestamp,
) -> TranscriptEntry {
    TranscriptEntry {
        id: MessageId::generate(),
        conversation_id: conv.id.clone(),
        customer_id: conv.customer_id.clone(),
        seq: conv.next_seq,
        from: Party::System,
        channel: conv.channel.clone(),
        at: now,
        content: Content::Text {
            text: text.to_owned(),
        },
        buttons: Vec::new(),
        platform_message_id: None,
    }
}
