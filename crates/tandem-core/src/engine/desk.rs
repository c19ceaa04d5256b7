//! Desk events: what an agent's action (accept, reply, transfer, resolve, release)
//! changes in the conversation, and a desk's confirmation that it has the thread.

use crate::engine::Reach;
use crate::engine::csat;
use crate::engine::handoff::{self, agent_actor, queue_of, return_to_bot, transition};
use crate::engine::ownership::authorize;
use crate::records::{
    AgentRef, ConversationRecord, Csat, HandoffStatus, Owner, PendingInbound, RoutingStep, Turn,
};
use crate::shape::{outbox_entries, remember_buttons};
use serde::{Deserialize, Serialize};
use tandem_model::{Content, MessageId, OutboundContent, Party, Timestamp, TranscriptEntry};
use tandem_sdk::DeskOp;

/// What the customer hears when an agent joins.
pub const AGENT_JOINED: &str = "You're now chatting with a member of our team.";
/// What the customer hears when the bot takes over again.
pub const BOT_IS_BACK: &str = "Thanks for your patience! I'm the assistant again, ask me anything.";

/// An agent action as kept in the inbound log.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeskEventDoc {
    /// The handoff acted on.
    pub handoff_id: String,
    /// `accepted`, `agent_message`, `transferred`, `resolved` or `released`.
    pub kind: String,
    /// `agent_message`: the text (a caption with `media`).
    #[serde(default)]
    pub text: Option<String>,
    /// The agent acting (`None`: the desk itself).
    #[serde(default)]
    pub agent_id: Option<String>,
    /// The agent's name, when the desk gives one.
    #[serde(default)]
    pub agent_name: Option<String>,
    /// `transferred`: the agent taking over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_agent: Option<AgentRef>,
    /// `transferred`: the queue it goes back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_queue: Option<String>,
    /// `agent_message`: the image or file sent, `text` its caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<tandem_model::OutboundMedia>,
}

/// What the runtime gathers for [`event`] before it decides.
#[derive(Debug, Clone, Copy)]
pub struct DeskFacts<'a> {
    /// Agent ids allowed to act on every handoff (`[handoff] supervisors`).
    pub supervisors: &'a [String],
    /// Where replies to the customer go.
    pub reach: &'a Reach,
    /// Whether the channel's messaging window is open (a survey only goes into an open one).
    pub window_open: bool,
}

/// Applies one recorded agent action to the conversation; `None` when it changes nothing
/// (a closed or unknown handoff, an agent who does not own it, an unknown kind).
pub fn event(
    pending: &PendingInbound,
    doc: &DeskEventDoc,
    conv: ConversationRecord,
    facts: &DeskFacts,
    now: Timestamp,
) -> Option<Turn> {
    let mut next = conv.clone();
    next.updated_at = now;
    let mut h = next
        .state
        .handoff
        .take()
        .filter(|h| h.id == doc.handoff_id && !h.status.is_closed())?;
    // The desk was told when the event was submitted; a race between two agents on a
    // waiting handoff ends here, with one owner.
    authorize(&h, doc.agent_id.as_deref(), facts.supervisors).ok()?;
    // Keep the name a desk gave earlier when this event names only the id.
    let acting = doc.agent_id.clone().map(|id| {
        let known = h
            .agent
            .as_ref()
            .filter(|o| o.id == id)
            .and_then(|o| o.name.clone());
        AgentRef {
            name: doc.agent_name.clone().or(known),
            id,
        }
    });
    let owned = h.status == HandoffStatus::Accepted && h.agent.is_some();
    let is_owner = owned && h.agent.as_ref().map(|o| &o.id) == doc.agent_id.as_ref();
    let actor = agent_actor(acting.as_ref(), &h.desk);
    let mut replies: Vec<(Party, OutboundContent)> = Vec::new();
    let mut desk_ops: Vec<tandem_sdk::DeskOp> = Vec::new();
    match doc.kind.as_str() {
        "accepted" => {
            // Authorized: the owner again, the first taker, or a supervisor taking
            // the handoff over.
            if acting.is_some() {
                h.agent = acting;
            }
            if h.status != HandoffStatus::Accepted {
                transition(&mut h, HandoffStatus::Accepted, &actor, now);
                next.state.owner = Owner::Agent;
                replies.push((Party::System, OutboundContent::text(AGENT_JOINED)));
            }
            next.state.handoff = Some(h);
        }
        "agent_message" => {
            // The first reply accepts the handoff implicitly; a supervisor writing
            // into someone else's handoff leaves it with its owner.
            if !owned || is_owner {
                if acting.is_some() {
                    h.agent = acting.clone();
                }
                transition(&mut h, HandoffStatus::Accepted, &actor, now);
                next.state.owner = Owner::Agent;
            }
            let text = doc.text.clone().unwrap_or_default();
            if !text.trim().is_empty() || doc.media.is_some() {
                let mut content = OutboundContent::text(text);
                content.sender_name = acting.as_ref().and_then(|a| a.name.clone());
                content.media = doc.media.clone();
                replies.push((Party::Agent, content));
            }
            next.state.handoff = Some(h);
        }
        "transferred" => {
            let from_queue = queue_of(&h).to_owned();
            match (&doc.to_agent, &doc.to_queue) {
                (Some(to), _) => {
                    h.agent = Some(to.clone());
                    h.assignee = Some(to.clone());
                    transition(&mut h, HandoffStatus::Accepted, &actor, now);
                    next.state.owner = Owner::Agent;
                    h.routing.push(RoutingStep {
                        change: "transferred".into(),
                        queue: from_queue.clone(),
                        from: Some(from_queue),
                        agent: Some(to.clone()),
                        at_ms: handoff::ms(now),
                    });
                }
                (None, Some(queue)) => {
                    h.agent = None;
                    h.assignee = None;
                    h.target = Some(queue.clone());
                    transition(&mut h, HandoffStatus::Queued, &actor, now);
                    next.state.owner = Owner::Queue;
                    h.routing.push(RoutingStep {
                        change: "transferred".into(),
                        queue: queue.clone(),
                        from: Some(from_queue),
                        agent: None,
                        at_ms: handoff::ms(now),
                    });
                }
                (None, None) => return None,
            }
            desk_ops.push(DeskOp::Update(handoff::updated(
                &h,
                &next,
                "transferred",
                now,
            )));
            next.state.handoff = Some(h);
        }
        "resolved" | "released" => {
            let resolved = doc.kind == "resolved";
            let status = if resolved {
                HandoffStatus::Resolved
            } else {
                HandoffStatus::Released
            };
            transition(&mut h, status, &actor, now);
            return_to_bot(&mut next.state);
            replies.push((Party::Bot, OutboundContent::text(BOT_IS_BACK)));
            if resolved {
                // No survey into a closed messaging window: recorded as skipped.
                if facts.window_open {
                    csat::start(&mut next.state, &h.id);
                    replies.push((Party::Bot, csat::prompt()));
                } else {
                    h.csat = Some(Csat {
                        skipped: Some("window_closed".into()),
                        at_ms: Some(handoff::ms(now)),
                        ..Csat::default()
                    });
                }
            }
            next.state.archive_handoff(h);
        }
        _ => return None,
    }
    // The survey's buttons are taps the customer may send back (matched by payload).
    remember_buttons(&mut next.state, &replies);
    let (recipient, caps) = (&facts.reach.recipient, facts.reach.caps.as_ref());
    let mut seq = conv.next_seq;
    let mut entries = Vec::new();
    let mut outbox = Vec::new();
    for (from, content) in replies {
        // An agent's reply keeps the key its desk submitted it under, so the desk can
        // be told how its delivery fares (`Core::tell_desk_about_reply`).
        let event_key = (from == Party::Agent).then(|| pending.message.platform_message_id.clone());
        let entry = TranscriptEntry {
            id: MessageId::generate(),
            conversation_id: conv.id.clone(),
            customer_id: conv.customer_id.clone(),
            seq,
            from,
            channel: conv.channel.clone(),
            at: now,
            content: Content::Text {
                text: crate::shape::transcript_text(&content),
            },
            buttons: content.buttons.clone(),
            platform_message_id: event_key,
        };
        seq += 1;
        if let Some(recipient) = &recipient {
            outbox.extend(outbox_entries(&entry, recipient, &content, caps, now));
        }
        entries.push(entry);
    }
    next.next_seq = seq;
    let desk = next
        .state
        .handoff
        .as_ref()
        .map(|h| h.desk.clone())
        .unwrap_or_default();
    for op in desk_ops {
        outbox.push(handoff::desk_entry(&next, &desk, op, now));
    }
    // Suggestions of a handoff that closed are withdrawn.
    crate::engine::drafts::withdraw_stale(&mut next.state, now);
    Some(Turn {
        inbound_seq: Some(pending.seq),
        conversation: next,
        entries,
        escalations: vec![],
        outbox,
        timers: Vec::new(),
        ai_audit: Vec::new(),
    })
}

/// A desk confirmed it has the thread of handoff `handoff_id`: a requested handoff is
/// queued for an agent. `None` when there is nothing to change.
pub fn opened(mut next: ConversationRecord, handoff_id: &str, now: Timestamp) -> Option<Turn> {
    let h = next.state.handoff.as_mut().filter(|h| h.id == handoff_id)?;
    if h.status != HandoffStatus::Requested {
        return None;
    }
    let actor = format!("desk:{}", h.desk);
    transition(h, HandoffStatus::Queued, &actor, now);
    next.updated_at = now;
    Some(Turn::of(next))
}
