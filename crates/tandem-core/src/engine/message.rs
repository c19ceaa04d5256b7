//! What a customer message decides: the state it changes (sentiment trend, negative
//! and fallback counters, slots, last intent) and the policy's decision. The gateway and
//! `tandem policy test` both decide through [`decide_message`], so they decide alike.
//! Taps on offered buttons and an external owner gone quiet are read here too.

use crate::config::Selection;
use crate::engine::csat;
use crate::engine::drafts::{self, DraftParts};
use crate::intent::Understanding;
use crate::policy::{Decision, EscalationPolicy, OfferKind, PastContact, PolicyInput};
use crate::records::{ConversationState, CustomerRecord, DraftSource, Owner};
use tandem_model::{Button, ChannelId, OutboundContent, Party, Timestamp};

/// What the customer is told when a conversation is marked for handoff.
pub const HANDOFF_NOTICE: &str =
    "I'm passing this to our team. A person will follow up with you here as soon as possible.";

/// The answer to a person request from an AI-first segment (the second request hands off).
pub const BOT_FIRST_REPLY: &str = "I can help with most questions right away: tell me what you need. If you'd still rather talk to a person, tap the button.";

/// The payload of the "talk to a person" button.
pub const HUMAN_PAYLOAD: &str = "talk_to_human";

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
    if crate::engine::handoff::ms(now).saturating_sub(last) >= after.whole_milliseconds() as i64 {
        state.owner = Owner::Bot;
        state.external_at_ms = None;
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
pub(crate) fn push_sentiment(state: &mut ConversationState, compound: f32) {
    state.sentiment_history.push(compound);
    let excess = state.sentiment_history.len().saturating_sub(10);
    state.sentiment_history.drain(..excess);
}

/// A "talk to a person" button, offered by policies that suggest a handoff.
pub fn human_button() -> Button {
    Button {
        title: "Talk to a person".into(),
        payload: HUMAN_PAYLOAD.into(),
    }
}

/// What [`respond`] answers a customer message from: the message, what the hooks and
/// the policy made of it, and what the runtime did about a handoff.
#[derive(Debug, Clone)]
pub struct Answer<'a> {
    /// What the customer wrote (or the payload of the button they tapped).
    pub question: &'a str,
    /// What the bot and the AI hooks said.
    pub understanding: &'a Understanding,
    /// The policy's decision ([`decide_message`]).
    pub decision: &'a Decision,
    /// Whether a desk was asked to take the handoff the decision wants.
    pub handoff_opened: bool,
    /// Whether a handoff had been requested before this message (without a desk).
    pub handoff_requested_before: bool,
    /// Draft-only mode applies to this turn (`[drafts]`): the bot's answer waits for an
    /// agent instead of going out.
    pub drafted: Option<Selection>,
    /// The transcript entries the conversation had before this message.
    pub seq_before: u64,
}

/// The replies to a customer message the bot owns, after the policy decided: the handoff
/// notice (once without a desk; after that the bot answers as usual), the AI-first answer with the "talk to a person"
/// button, or the bot's answer (with that button when the policy offers it, and the bot
/// survey after a thanks); in draft-only mode the bot's answer becomes a draft instead.
pub fn respond(
    state: &mut ConversationState,
    a: &Answer<'_>,
    now: Timestamp,
) -> Vec<(Party, OutboundContent)> {
    let mut replies = Vec::new();
    let answer = &a.understanding.answer;
    let draft = |state: &mut ConversationState, reply: OutboundContent| {
        let parts = DraftParts {
            text: reply.text,
            buttons: reply.buttons,
            question: Some(a.question.to_owned()),
            intent: answer.intent.clone(),
            confidence: Some(answer.confidence),
            selection: a.drafted.clone().unwrap_or_default(),
            handoff_id: None,
        };
        drafts::add(state, DraftSource::Bot, parts, now);
    };
    if a.handoff_opened {
        replies.push((Party::System, OutboundContent::text(HANDOFF_NOTICE)));
    } else if a.decision.escalate && !a.handoff_requested_before {
        // No desk configured: record the decision and tell the customer once.
        state.handoff_requested = true;
        replies.push((Party::System, OutboundContent::text(HANDOFF_NOTICE)));
    } else if a.decision.offers(OfferKind::BotFirst) {
        // AI-first segment asking for a person: help first, offer the person.
        let reply = OutboundContent::with_buttons(BOT_FIRST_REPLY, vec![human_button()]);
        if a.drafted.is_some() {
            draft(state, reply);
        } else {
            replies.push((Party::Bot, reply));
        }
    } else {
        let survey = csat::bot_survey_due(
            state,
            a.seq_before,
            a.understanding
                .intent
                .as_ref()
                .map(|i| (i.intent.as_str(), i.confidence)),
            answer.intent.as_deref(),
        );
        let mut reply = OutboundContent::with_buttons(answer.text.clone(), answer.buttons.clone());
        if a.decision.offers(OfferKind::HumanButton)
            && !reply.buttons.iter().any(|b| b.payload == HUMAN_PAYLOAD)
        {
            reply.buttons.push(human_button());
        }
        if a.drafted.is_some() {
            // No survey after a drafted answer: the customer has not got it.
            draft(state, reply);
        } else {
            replies.push((Party::Bot, reply));
            if survey {
                // A thanks after the bot helped: how did the bot do?
                csat::start(state, csat::BOT_SURVEY);
                replies.push((Party::Bot, csat::prompt()));
            }
        }
    }
    replies
}
