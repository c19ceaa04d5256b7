//! What a customer message decides: the state it changes (sentiment trend, negative
//! and fallback counters, slots, last intent) and the policy's decision. The gateway and
//! `tandem policy test` both decide through [`decide_message`], so they decide alike.
//! Taps on offered buttons and an external owner gone quiet are read here too.

use crate::intent::Understanding;
use crate::policy::{Decision, EscalationPolicy, OfferKind, PastContact, PolicyInput};
use crate::records::{ConversationState, CustomerRecord, Owner};
use tandem_model::{Button, ChannelId, Timestamp};

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
