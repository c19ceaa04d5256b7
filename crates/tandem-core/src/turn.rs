//! Plans the turn for one customer message: transcript entries, state changes, the
//! escalation decision and the replies to send. Pure apart from calling the bot and
//! sentiment hooks; the router commits the result atomically.

use crate::ai::{BotAnswer, BotQuestion};
use crate::policy::PolicyInput;
use crate::router::Core;
use crate::shape::shape;
use crate::store::{
    ConversationRecord, CustomerRecord, EscalationEvent, NewOutboxEntry, Owner, PendingInbound,
    Turn,
};
use tandem_model::{
    Button, Capabilities, Content, EscalationId, MessageId, OutboundContent, OutboundMessage,
    OutboxId, Party, Timestamp, TranscriptEntry,
};

/// What the customer is told when a conversation is marked for handoff.
pub const HANDOFF_NOTICE: &str =
    "I'm passing this to our team. A person will follow up with you here as soon as possible.";

/// What the customer is told when Tandem cannot read a message.
pub const UNREADABLE_NOTICE: &str =
    "Sorry, I can only read text messages for now. Could you type your question?";

pub(crate) async fn plan(
    core: &Core,
    pending: &PendingInbound,
    customer: &CustomerRecord,
    conversation: ConversationRecord,
) -> Turn {
    let inner = &core.inner;
    let now = inner.clock.now();
    let msg = &pending.message;
    let mut next = conversation.clone();
    next.channel = msg.channel.clone();
    next.updated_at = now;
    next.state.last_customer_message_at.insert(
        msg.channel.as_str().to_owned(),
        (msg.sent_at.unix_timestamp_nanos() / 1_000_000) as i64,
    );

    let mut seq = conversation.next_seq;
    let mut entries = vec![TranscriptEntry {
        id: MessageId::generate(),
        conversation_id: conversation.id.clone(),
        customer_id: customer.id.clone(),
        seq,
        from: Party::Customer,
        channel: msg.channel.clone(),
        at: msg.sent_at,
        content: msg.content.clone(),
        buttons: Vec::new(),
        platform_message_id: Some(msg.platform_message_id.clone()),
    }];
    let customer_seq = seq;
    seq += 1;
    let mut escalations = Vec::new();
    let mut replies: Vec<(Party, OutboundContent)> = Vec::new();

    let text = match &msg.content {
        Content::Postback { payload, .. } => Some(payload.clone()),
        other => other.text().map(str::to_owned),
    };

    match text {
        Some(text) if !text.trim().is_empty() => {
            let sentiment = inner.sentiment.analyze(&text).await;
            if sentiment.compound < inner.policy.negative_threshold() {
                next.state.negative_count += 1;
            }
            let answer = inner
                .bot
                .answer(BotQuestion {
                    text: &text,
                    slots: &conversation.state.slots,
                    last_intent: conversation.state.last_intent.as_deref(),
                })
                .await;
            for (k, v) in &answer.slots {
                next.state.slots.insert(k.clone(), v.clone());
            }
            if answer.fallback {
                next.state.fallback_count += 1;
            } else {
                next.state.fallback_count = 0;
                next.state.last_intent = answer.intent.clone();
            }
            let decision = inner.policy.evaluate(&PolicyInput {
                text: &text,
                channel: &msg.channel,
                sentiment: sentiment.compound,
                state: &next.state,
                customer,
                bot: &answer,
            });
            let bot_owns = next.state.owner == Owner::Bot;
            if decision.escalate {
                escalations.push(EscalationEvent {
                    id: EscalationId::generate(),
                    conversation_id: conversation.id.clone(),
                    customer_id: customer.id.clone(),
                    at: now,
                    message_seq: customer_seq,
                    escalate: true,
                    reasons: decision.reasons.clone(),
                    category: decision.category.clone(),
                    priority: decision.priority.clone(),
                    target: decision.target.clone(),
                    policy_version: inner.policy.version().to_owned(),
                });
            }
            if bot_owns {
                if decision.escalate && !conversation.state.handoff_requested {
                    next.state.handoff_requested = true;
                    replies.push((Party::System, OutboundContent::text(HANDOFF_NOTICE)));
                } else {
                    replies.push((Party::Bot, bot_reply(answer)));
                }
            }
        }
        _ => {
            // Reactions need no answer; anything else unreadable gets a clear notice.
            if next.state.owner == Owner::Bot && !matches!(msg.content, Content::Reaction { .. }) {
                replies.push((Party::System, OutboundContent::text(UNREADABLE_NOTICE)));
            }
        }
    }

    let caps = core.adapter(&msg.channel).map(|a| a.capabilities().clone());
    let mut outbox = Vec::new();
    for (from, content) in replies {
        let entry = TranscriptEntry {
            id: MessageId::generate(),
            conversation_id: conversation.id.clone(),
            customer_id: customer.id.clone(),
            seq,
            from,
            channel: msg.channel.clone(),
            at: now,
            content: Content::Text {
                text: content.text.clone(),
            },
            buttons: content.buttons.clone(),
            platform_message_id: None,
        };
        seq += 1;
        outbox.extend(outbox_entries(
            &entry,
            &msg.sender.subject,
            &content,
            caps.as_ref(),
            now,
        ));
        entries.push(entry);
    }
    next.next_seq = seq;
    Turn {
        inbound_seq: Some(pending.seq),
        conversation: next,
        entries,
        escalations,
        outbox,
    }
}

fn bot_reply(answer: BotAnswer) -> OutboundContent {
    OutboundContent::with_buttons(answer.text, answer.buttons)
}

/// The outbox entries rendering one transcript entry on its channel, shaped to the
/// channel's capabilities (when the channel is not running, unshaped: the dispatcher
/// parks it with a clear error).
pub fn outbox_entries(
    entry: &TranscriptEntry,
    recipient: &str,
    content: &OutboundContent,
    caps: Option<&Capabilities>,
    now: Timestamp,
) -> Vec<NewOutboxEntry> {
    let parts = match caps {
        Some(caps) => shape(content, caps),
        None => vec![content.clone()],
    };
    parts
        .into_iter()
        .map(|part| NewOutboxEntry {
            message: OutboundMessage {
                outbox_id: OutboxId::generate(),
                channel: entry.channel.clone(),
                recipient: recipient.to_owned(),
                conversation_id: entry.conversation_id.clone(),
                from: entry.from,
                content: part,
                message_id: entry.id.clone(),
                created_at: now,
            },
            next_attempt_at: now,
        })
        .collect()
}

/// A "talk to a person" button, offered by policies that suggest a handoff.
pub fn human_button() -> Button {
    Button {
        title: "Talk to a person".into(),
        payload: "talk_to_human".into(),
    }
}
