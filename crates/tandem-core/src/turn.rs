//! Plans the turn for one customer message: transcript entries, state changes, the
//! escalation decision and the replies to send. Pure apart from calling the bot and
//! sentiment hooks; the router commits the result atomically.

use crate::ai::{
    AiCall, Bot, BotAnswer, BotQuestion, IntentClassifier, IntentSignal, SentimentAnalyzer,
};
use crate::audit::AuditScope;
use crate::policy::{Decision, EscalationPolicy, OfferKind, PastContact, PolicyInput};
use crate::router::Core;
use crate::shape::shape;
use crate::store::{
    ConversationRecord, ConversationState, CustomerRecord, NewOutboxEntry, Owner, PendingInbound,
    Turn,
};
use crate::{csat, handoff};
use std::time::{Duration, Instant};
use tandem_model::{
    Button, Capabilities, ChannelId, Content, MessageId, OutboundContent, OutboundMessage,
    OutboxId, Party, Timestamp, TranscriptEntry,
};
use tandem_sdk::DeskOp;

/// What the customer is told when a conversation is marked for handoff.
pub const HANDOFF_NOTICE: &str =
    "I'm passing this to our team. A person will follow up with you here as soon as possible.";

/// The payload of the "talk to a person" button.
pub const HUMAN_PAYLOAD: &str = "talk_to_human";

/// How a click on the "talk to a person" button reads to the bot and the policy.
pub const HUMAN_REQUEST_TEXT: &str = "I want to talk to a person";

/// The answer to a person request from an AI-first segment (the second request hands off).
pub const BOT_FIRST_REPLY: &str = "I can help with most questions right away: tell me what you need. If you'd still rather talk to a person, tap the button.";

/// What the customer is told when the platform delivered something nobody can read (a
/// message type the platform itself does not support, an unknown kind).
pub const UNREADABLE_NOTICE: &str =
    "Sorry, I couldn't open that message. Could you send it again, or tell me in words?";

/// The earlier wording, answered to every non-text message before edits, orders, taps
/// and platform events were understood. Kept so tests can assert it is never sent.
pub const TEXT_ONLY_APOLOGY: &str =
    "Sorry, I can only read text messages for now. Could you type your question?";

/// What the customer is told when they send a picture, file, voice note or video without
/// words while the bot has the conversation (the desks get the media reference).
pub const MEDIA_NOTICE: &str = "Thanks, I've got it. Tell me in a few words what it's about and I'll help, or ask for a person.";

/// How many recently offered buttons a conversation remembers for matching taps.
pub const OFFERED_BUTTONS_KEPT: usize = 30;

pub(crate) async fn plan(
    core: &Core,
    pending: &PendingInbound,
    customer: &CustomerRecord,
    conversation: ConversationRecord,
) -> Turn {
    let inner = &core.inner;
    let policy = core.policy();
    let now = inner.clock.now();
    let msg = &pending.message;
    let mut next = conversation.clone();
    next.channel = msg.channel.clone();
    next.updated_at = now;
    next.state.checked_in = false;
    let external = matches!(msg.content, Content::ExternalReply { .. });
    release_external_if_quiet(&mut next.state, now, inner.config.external_release_after);
    if msg.content.is_customer_act() {
        // Anything the customer did (not a platform event) opens the messaging window.
        next.state.last_customer_message_at.insert(
            msg.channel.as_str().to_owned(),
            (msg.sent_at.unix_timestamp_nanos() / 1_000_000) as i64,
        );
    }

    let mut seq = conversation.next_seq;
    let mut entries = vec![TranscriptEntry {
        id: MessageId::generate(),
        conversation_id: conversation.id.clone(),
        customer_id: customer.id.clone(),
        seq,
        // A person answering outside Tandem is on the business's side.
        from: if external {
            Party::Agent
        } else {
            Party::Customer
        },
        channel: msg.channel.clone(),
        at: msg.sent_at,
        content: msg.content.clone(),
        buttons: Vec::new(),
        platform_message_id: Some(msg.platform_message_id.clone()),
    }];
    let customer_seq = seq;
    seq += 1;
    let audit_scope = AuditScope {
        conversation: &conversation.id,
        customer: &customer.id,
        message_seq: customer_seq,
        at: now,
        store_prompts: inner.config.store_prompts,
    };
    let mut ai_audit = Vec::new();
    let mut escalations = Vec::new();
    let mut replies: Vec<(Party, OutboundContent)> = Vec::new();

    let text = match &msg.content {
        // The "talk to a person" button asks for a person in words every policy knows.
        Content::Postback { payload, .. } if payload == HUMAN_PAYLOAD => {
            Some(HUMAN_REQUEST_TEXT.to_owned())
        }
        // A tap is a value, not words: only a button Tandem offered means something, and
        // then its payload (Tandem's own text) is what the customer chose.
        Content::Postback { payload, .. } => {
            tapped(&conversation.state, payload).map(|b| b.payload.clone())
        }
        // Edits, deletions, orders and forms are recorded (the desks see them), not
        // read as a new question.
        Content::Edited { .. }
        | Content::Deleted { .. }
        | Content::Structured { .. }
        | Content::ExternalReply { .. } => None,
        // "2" answers choices that were offered as numbered text.
        Content::Text { text } => Some(
            crate::shape::choice_answer(text, &conversation.state.offered_choices)
                .map_or_else(|| text.clone(), |b| b.payload.clone()),
        ),
        other => other.text().map(str::to_owned),
    };
    // Desk operations go after the customer-facing replies of this turn, in order.
    let mut desk_ops: Vec<(String, DeskOp)> = Vec::new();

    if external && matches!(next.state.owner, Owner::Bot | Owner::External) {
        // A person answers outside Tandem: theirs until they go quiet or are released.
        next.state.owner = Owner::External;
        next.state.external_at_ms = Some(crate::handoff::ms(now));
    } else if next.state.owner != Owner::Bot {
        // A human owns the conversation: the bot is silent, the desk gets the message.
        if let Some(text) = text
            .as_deref()
            .filter(|t| !external && !t.trim().is_empty())
        {
            let started = Instant::now();
            let score = inner.sentiment.analyze(text).await;
            ai_audit.push(audit_scope.sentiment(&score, started.elapsed()));
            push_sentiment(&mut next.state, score.compound);
        }
        if let Some(h) = &next.state.handoff {
            desk_ops.push((
                h.desk.clone(),
                DeskOp::Append(handoff::message(h, &entries[0])),
            ));
        }
    } else if let Some(reply) = text
        .as_deref()
        .and_then(|t| csat::answer(&mut next.state, t, now))
    {
        replies.push((Party::Bot, reply));
    } else {
        match text {
            Some(text) if !text.trim().is_empty() => {
                let understanding = understand(
                    inner.bot.as_ref(),
                    inner.sentiment.as_ref(),
                    inner.intents.as_deref(),
                    &conversation.state,
                    &text,
                    BotScope {
                        channel: msg.channel.as_str(),
                        conversation: conversation.id.as_str(),
                    },
                )
                .await;
                ai_audit.extend(audit_scope.understanding(&understanding));
                let history = match &conversation.state.past_contacts {
                    Some(known) => known.clone(),
                    None => {
                        // Kept only when read: a store hiccup is retried on the next message.
                        let read = core.past_contacts(customer, &conversation.id).await;
                        next.state.past_contacts.clone_from(&read);
                        read.unwrap_or_default()
                    }
                };
                let facts = MessageFacts {
                    customer,
                    channel: &msg.channel,
                    text: &text,
                    history: &history,
                    now,
                };
                let decision =
                    decide_message(policy.as_ref(), &mut next.state, &facts, &understanding);
                escalations.push(decision.record(
                    &conversation.id,
                    &customer.id,
                    customer_seq,
                    policy.version(),
                    now,
                ));
                let opened = if decision.escalate {
                    // Hand off: the queue owns the conversation until an agent takes it.
                    core.start_handoff(
                        &mut next,
                        customer,
                        &decision,
                        &entries[0],
                        now,
                        &mut ai_audit,
                    )
                    .await
                } else {
                    None
                };
                if let Some(op) = opened {
                    replies.push((Party::System, OutboundContent::text(HANDOFF_NOTICE)));
                    desk_ops.push(op);
                } else if decision.escalate && !conversation.state.handoff_requested {
                    // No desk configured: record the decision and tell the customer once.
                    next.state.handoff_requested = true;
                    replies.push((Party::System, OutboundContent::text(HANDOFF_NOTICE)));
                } else if decision.offers(OfferKind::BotFirst) {
                    // AI-first segment asking for a person: help first, offer the person.
                    replies.push((
                        Party::Bot,
                        OutboundContent::with_buttons(BOT_FIRST_REPLY, vec![human_button()]),
                    ));
                } else {
                    let survey = csat::bot_survey_due(
                        &next.state,
                        conversation.next_seq,
                        understanding
                            .intent
                            .as_ref()
                            .map(|i| (i.intent.as_str(), i.confidence)),
                        understanding.answer.intent.as_deref(),
                    );
                    let mut reply = bot_reply(understanding.answer);
                    if decision.offers(OfferKind::HumanButton)
                        && !reply.buttons.iter().any(|b| b.payload == HUMAN_PAYLOAD)
                    {
                        reply.buttons.push(human_button());
                    }
                    replies.push((Party::Bot, reply));
                    if survey {
                        // A thanks after the bot helped: how did the bot do?
                        csat::start(&mut next.state, csat::BOT_SURVEY);
                        replies.push((Party::Bot, csat::prompt()));
                    }
                }
            }
            _ => match &msg.content {
                // A link code was redeemed (or was stale) before this turn.
                Content::Start {
                    source: Some(s), ..
                } if s == crate::linking::LINKED_SOURCE => {
                    replies.push((
                        Party::System,
                        OutboundContent::text(crate::linking::LINKED_NOTICE),
                    ));
                }
                Content::Start {
                    source: Some(s), ..
                } if s == crate::linking::EXPIRED_SOURCE => {
                    replies.push((
                        Party::System,
                        OutboundContent::text(crate::linking::EXPIRED_NOTICE),
                    ));
                }
                Content::Start {
                    source: Some(s), ..
                } if s == crate::linking::USED_SOURCE => {
                    replies.push((
                        Party::System,
                        OutboundContent::text(crate::linking::USED_NOTICE),
                    ));
                }
                // A new conversation opened by a deep link or Get Started is greeted.
                Content::Start { .. } => {
                    if conversation.next_seq == 0
                        && let Some(greeting) = inner.bot.greeting()
                    {
                        replies.push((Party::Bot, OutboundContent::text(greeting)));
                    }
                }
                // Words-free media: the desks get the reference; the customer is asked
                // what it is about (stickers are like reactions).
                Content::Media { kind, .. } if *kind != tandem_model::MediaKind::Sticker => {
                    replies.push((Party::System, OutboundContent::text(MEDIA_NOTICE)));
                }
                // Only what nobody can read gets the notice.
                Content::Unsupported { .. } => {
                    replies.push((Party::System, OutboundContent::text(UNREADABLE_NOTICE)));
                }
                // Reactions, edits, deletions, orders and forms, locations, contact cards,
                // taps on buttons Tandem did not offer and platform events are recorded
                // (the desks see them) and need no answer.
                _ => {}
            },
        }
    }

    let caps = core.adapter(&msg.channel).map(|a| a.capabilities().clone());
    if !replies.is_empty() {
        // Remember choices the channel shows as numbered text, so "2" can be mapped back.
        next.state.offered_choices = replies
            .iter()
            .rev()
            .find(|(_, c)| !c.buttons.is_empty())
            .filter(|(_, c)| {
                caps.as_ref()
                    .is_some_and(|caps| crate::shape::choice_style(&c.buttons, caps).is_none())
            })
            .map(|(_, c)| c.buttons.clone())
            .unwrap_or_default();
    }
    remember_buttons(&mut next.state, &replies);
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
    for (desk, op) in desk_ops {
        outbox.push(handoff::desk_entry(&next, &desk, op, now));
    }
    Turn {
        inbound_seq: Some(pending.seq),
        conversation: next,
        entries,
        escalations,
        outbox,
        timers: Vec::new(),
        ai_audit,
    }
}

/// The button a tap's payload belongs to: the "talk to a person" button, one Tandem
/// offered lately, or one offered as numbered text. `None` for anything else (a stale or
/// foreign payload, a platform's opaque callback data).
pub fn tapped<'a>(state: &'a ConversationState, payload: &str) -> Option<&'a Button> {
    state
        .offered_buttons
        .iter()
        .rev()
        .chain(state.offered_choices.iter())
        .find(|b| b.payload == payload)
}

/// Adds the buttons of this turn's replies to the ones a tap may answer.
pub(crate) fn remember_buttons(
    state: &mut ConversationState,
    replies: &[(Party, OutboundContent)],
) {
    for b in replies.iter().flat_map(|(_, c)| &c.buttons) {
        state.offered_buttons.retain(|o| o.payload != b.payload);
        state.offered_buttons.push(b.clone());
    }
    let excess = state
        .offered_buttons
        .len()
        .saturating_sub(OFFERED_BUTTONS_KEPT);
    state.offered_buttons.drain(..excess);
}

/// Gives a conversation back to the bot once the person outside Tandem has been quiet
/// for `after` (checked lazily on the next message, so it survives restarts).
pub fn release_external_if_quiet(
    state: &mut ConversationState,
    now: Timestamp,
    after: time::Duration,
) {
    if state.owner != Owner::External {
        return;
    }
    let last = state.external_at_ms.unwrap_or(i64::MIN);
    if crate::handoff::ms(now).saturating_sub(last) >= after.whole_milliseconds() as i64 {
        state.owner = Owner::Bot;
        state.external_at_ms = None;
    }
}

/// What the hooks say about one customer message.
#[derive(Debug, Clone, PartialEq)]
pub struct Understanding {
    /// Sentiment compound score in [-1, 1].
    pub sentiment: f32,
    /// The bot's answer (intent, confidence, reply, slots).
    pub answer: BotAnswer,
    /// What the intent classifier says the customer wants (`None` without a classifier).
    pub intent: Option<IntentSignal>,
    /// How the hooks decided, for the AI audit trail ([`crate::audit`]).
    pub trace: UnderstandingTrace,
}

/// How [`understand`]'s hooks decided: the sentiment analyzer's call (the bot's and the
/// classifier's travel with their answers) and how long each hook took.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UnderstandingTrace {
    /// What the sentiment analyzer said about its score.
    pub sentiment_call: Option<AiCall>,
    /// How long sentiment scoring took.
    pub sentiment: Duration,
    /// How long the intent classifier took.
    pub intent: Duration,
    /// How long the bot took.
    pub bot: Duration,
}

/// Where a message was written, for bots that answer per channel or keep their own
/// dialogue state ([`BotQuestion::channel`], [`BotQuestion::conversation`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct BotScope<'a> {
    /// The channel instance id; empty when there is none.
    pub channel: &'a str,
    /// The conversation id; empty when there is none.
    pub conversation: &'a str,
}

/// Asks the sentiment analyzer, the intent classifier (when there is one) and the bot
/// about `text`, given the conversation so far.
pub async fn understand(
    bot: &dyn Bot,
    sentiment: &dyn SentimentAnalyzer,
    intents: Option<&dyn IntentClassifier>,
    state: &ConversationState,
    text: &str,
    scope: BotScope<'_>,
) -> Understanding {
    let started = Instant::now();
    let score = sentiment.analyze(text).await;
    let sentiment_took = started.elapsed();
    let started = Instant::now();
    let intent = match intents {
        Some(classifier) => classifier.classify(text).await,
        None => None,
    };
    let intent_took = started.elapsed();
    let started = Instant::now();
    let answer = bot
        .answer(BotQuestion {
            text,
            slots: &state.slots,
            last_intent: state.last_intent.as_deref(),
            channel: scope.channel,
            conversation: scope.conversation,
        })
        .await;
    Understanding {
        sentiment: score.compound,
        answer,
        intent,
        trace: UnderstandingTrace {
            sentiment_call: score.call,
            sentiment: sentiment_took,
            intent: intent_took,
            bot: started.elapsed(),
        },
    }
}

/// Applies one customer message to the conversation state (negative and fallback
/// counters, slots, last intent), then asks the policy. Pure: the gateway and
/// `tandem policy test` both decide through this function, so they decide alike.
/// [`decide_message`] is the same with the customer's history.
pub fn decide(
    policy: &dyn EscalationPolicy,
    state: &mut ConversationState,
    customer: &CustomerRecord,
    channel: &ChannelId,
    text: &str,
    understanding: &Understanding,
    now: Timestamp,
) -> Decision {
    let facts = MessageFacts {
        customer,
        channel,
        text,
        history: &[],
        now,
    };
    decide_message(policy, state, &facts, understanding)
}

/// The facts about one customer message that [`decide_message`] passes to the policy.
#[derive(Debug, Clone, Copy)]
pub struct MessageFacts<'a> {
    /// The customer.
    pub customer: &'a CustomerRecord,
    /// The channel the message arrived on.
    pub channel: &'a ChannelId,
    /// The message text.
    pub text: &'a str,
    /// The customer's earlier conversations (any channel), for `repeat_contact`.
    pub history: &'a [PastContact],
    /// When the message is evaluated.
    pub now: Timestamp,
}

/// [`decide`] with every fact, including the customer's history. After the policy
/// answers, remembers in the state whether a person was offered (the button or an
/// AI-first reply), so that an AI-first segment hands off the next request.
pub fn decide_message(
    policy: &dyn EscalationPolicy,
    state: &mut ConversationState,
    facts: &MessageFacts<'_>,
    understanding: &Understanding,
) -> Decision {
    let MessageFacts {
        customer,
        channel,
        text,
        history,
        now,
    } = *facts;
    push_sentiment(state, understanding.sentiment);
    if policy.counts_as_negative(understanding.sentiment, understanding.intent.as_ref()) {
        state.negative_count += 1;
    }
    let answer = &understanding.answer;
    for (k, v) in &answer.slots {
        state.slots.insert(k.clone(), v.clone());
    }
    if answer.fallback {
        if policy.counts_as_fallback(understanding.intent.as_ref()) {
            state.fallback_count += 1;
        } else {
            state.fallback_count = 0;
        }
    } else {
        state.fallback_count = 0;
        state.last_intent = answer.intent.clone();
    }
    let decision = policy.evaluate(&PolicyInput {
        text,
        channel,
        sentiment: understanding.sentiment,
        state,
        customer,
        bot: answer,
        intent: understanding.intent.as_ref(),
        now,
        history,
    });
    if decision.offers(OfferKind::HumanButton) || decision.offers(OfferKind::BotFirst) {
        state.human_offered = true;
    }
    decision
}

/// Keeps the newest ten sentiment scores (the briefing's trend).
fn push_sentiment(state: &mut ConversationState, compound: f32) {
    state.sentiment_history.push(compound);
    let excess = state.sentiment_history.len().saturating_sub(10);
    state.sentiment_history.drain(..excess);
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
        payload: HUMAN_PAYLOAD.into(),
    }
}
