//! The escalation hook: decides, per customer message, whether a human must take over.
//!
//! [`SeedPolicy`] is the walking skeleton's rule (keywords refund/cancel/angry/lawsuit, or
//! a second negative message); the full policy engine (`tandem-policy`) implements
//! [`EscalationPolicy`] too.
//!
//! Besides the per-message [`EscalationPolicy::evaluate`], a policy answers two questions the
//! core asks outside a customer message: [`EscalationPolicy::evaluate_inactivity`] (the
//! customer went quiet after a bot reply) and [`EscalationPolicy::evaluate_events`]
//! (business events posted about a customer). A [`Decision`] may hand off, or only carry
//! [`Offer`]s: actions that keep the bot in charge (a rephrase suggestion, the "talk to a
//! person" button, a check-in).

use crate::intent::IntentSignal;
use crate::records::{ConversationState, CustomerRecord, Reason};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tandem_model::{ChannelId, Timestamp};
use tandem_sdk::bot::BotAnswer;

/// What the policy sees for one customer message.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    /// The message text (empty for non-text content).
    pub text: &'a str,
    /// The channel it arrived on.
    pub channel: &'a ChannelId,
    /// Sentiment compound score of the message.
    pub sentiment: f32,
    /// The conversation state, counters already updated for this message.
    pub state: &'a ConversationState,
    /// The customer.
    pub customer: &'a CustomerRecord,
    /// The bot's answer to this message.
    pub bot: &'a BotAnswer,
    /// What the intent classifier says the customer wants (`None` without a classifier:
    /// policies then go by the bot's intent).
    pub intent: Option<&'a IntentSignal>,
    /// When the message is evaluated (time-based triggers use it; never the system clock).
    pub now: tandem_model::Timestamp,
    /// The customer's earlier conversations on any channel, for `repeat_contact`
    /// (empty when the caller has no history at hand).
    pub history: &'a [PastContact],
}

/// An earlier conversation of the same customer (any channel), for `repeat_contact`.
pub use crate::records::PastContact;

/// A business event about a customer (`payment_failed`, ...), posted through the admin API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessEvent {
    /// The event type, e.g. `payment_failed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
}

/// What the policy sees when a customer has been silent since the bot's last reply.
#[derive(Debug, Clone, Copy)]
pub struct InactivityInput<'a> {
    /// The conversation state.
    pub state: &'a ConversationState,
    /// The customer.
    pub customer: &'a CustomerRecord,
    /// How long the customer has been silent since the bot's last reply.
    pub idle: Duration,
    /// When this is evaluated.
    pub now: Timestamp,
}

/// What the policy sees when business events arrive for a customer.
#[derive(Debug, Clone, Copy)]
pub struct EventsInput<'a> {
    /// The customer.
    pub customer: &'a CustomerRecord,
    /// The customer's recent events, any order (the policy looks at their times).
    pub events: &'a [BusinessEvent],
    /// When this is evaluated.
    pub now: Timestamp,
}

/// What kind of non-handoff action a policy offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    /// Ask the customer to rephrase, with suggestions (fallback strike 1).
    Rephrase,
    /// Add the "talk to a person" button ([`crate::turn::human_button`]) to the bot's reply
    /// (fallback strike 2, low confidence).
    HumanButton,
    /// Send a proactive check-in ("Are you still there? Did that answer your question?").
    CheckIn,
    /// The customer asked for a person but their segment is AI-first: reply with the bot's
    /// help and the "talk to a person" button instead of an acknowledgement of a handoff;
    /// asking again hands off.
    BotFirst,
}

impl OfferKind {
    /// The snake_case name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            OfferKind::Rephrase => "rephrase",
            OfferKind::HumanButton => "human_button",
            OfferKind::CheckIn => "check_in",
            OfferKind::BotFirst => "bot_first",
        }
    }
}

/// A non-handoff action, with the trigger that suggested it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// What to do.
    pub kind: OfferKind,
    /// Why (trigger code, evidence).
    pub reason: Reason,
}

/// A policy decision with every trigger that fired.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    /// Whether to hand off.
    pub escalate: bool,
    /// Every trigger that fired, strongest first.
    pub reasons: Vec<Reason>,
    /// The chosen category.
    pub category: Option<String>,
    /// The chosen priority (`immediate` > `high` > `medium` > `low`).
    pub priority: Option<String>,
    /// The target queue.
    pub target: Option<String>,
    /// Actions that keep the bot in charge (only when not escalating): rephrase
    /// suggestions, the "talk to a person" button, a check-in.
    pub offers: Vec<Offer>,
}

impl Decision {
    /// True when the decision offers `kind`.
    pub fn offers(&self, kind: OfferKind) -> bool {
        self.offers.iter().any(|o| o.kind == kind)
    }
}

impl Decision {
    /// The record of this decision about the message at transcript `seq` (stored with
    /// the turn, escalating or not): every trigger that fired, and for a decision not to
    /// escalate, the triggers behind its offers (`fallback_loop`, `low_confidence`, ...).
    pub fn record(
        &self,
        conversation: &tandem_model::ConversationId,
        customer: &tandem_model::CustomerId,
        seq: u64,
        policy_version: &str,
        now: Timestamp,
    ) -> crate::records::EscalationEvent {
        let mut reasons = self.reasons.clone();
        if !self.escalate {
            for offer in &self.offers {
                if !reasons.contains(&offer.reason) {
                    reasons.push(offer.reason.clone());
                }
            }
        }
        crate::records::EscalationEvent {
            id: tandem_model::EscalationId::generate(),
            conversation_id: conversation.clone(),
            customer_id: customer.clone(),
            at: now,
            message_seq: seq,
            escalate: self.escalate,
            reasons,
            category: self.category.clone(),
            priority: self.priority.clone(),
            target: self.target.clone(),
            policy_version: policy_version.to_owned(),
        }
    }
}

/// Decides escalations. Pure: no I/O, no clock.
pub trait EscalationPolicy: Send + Sync + 'static {
    /// Evaluates one customer message.
    fn evaluate(&self, input: &PolicyInput<'_>) -> Decision;

    /// The policy's version (content hash), recorded with every decision.
    fn version(&self) -> &str;

    /// The categories this policy can decide (metrics show them from the start).
    fn category_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// Compound score below which a message counts as negative.
    fn negative_threshold(&self) -> f32 {
        -0.3
    }

    /// Whether a message with this sentiment (and, when classified, this intent) counts
    /// towards the conversation's negative messages (`sentiment_streak`). By default: a
    /// score below [`EscalationPolicy::negative_threshold`]. A policy may leave out
    /// routine requests ("I lost my password" reads negative but is no frustration).
    fn counts_as_negative(&self, sentiment: f32, intent: Option<&IntentSignal>) -> bool {
        let _ = intent;
        sentiment < self.negative_threshold()
    }

    /// Whether a bot fallback on a message with this intent is a strike of the fallback
    /// loop (otherwise the strikes start again). By default every fallback is. A policy
    /// may leave out clear routine questions the bot happens not to cover: the customer
    /// is not going round in circles.
    fn counts_as_fallback(&self, intent: Option<&IntentSignal>) -> bool {
        let _ = intent;
        true
    }

    /// How long after a bot reply the core should ask [`EscalationPolicy::evaluate_inactivity`]
    /// (the shortest silence any segment acts on); `None` when the policy never acts on
    /// silence.
    fn inactivity_after(&self) -> Option<std::time::Duration> {
        None
    }

    /// Evaluates a customer's silence since the bot's last reply (a proactive check-in,
    /// optionally a handoff). The default policy never acts on silence.
    fn evaluate_inactivity(&self, input: &InactivityInput<'_>) -> Decision {
        let _ = input;
        Decision::default()
    }

    /// Evaluates a customer's business events (three failed payments in a day → retention,
    /// before the customer writes). The default policy ignores events.
    fn evaluate_events(&self, input: &EventsInput<'_>) -> Decision {
        let _ = input;
        Decision::default()
    }
}

/// The walking skeleton's rule: any of refund/cancel/angry/lawsuit (word match,
/// case-insensitive), or a second negative message in the conversation.
#[derive(Debug, Clone, Default)]
pub struct SeedPolicy;

const SEED_KEYWORDS: [&str; 4] = ["refund", "cancel", "angry", "lawsuit"];

impl EscalationPolicy for SeedPolicy {
    fn evaluate(&self, input: &PolicyInput<'_>) -> Decision {
        let mut reasons = Vec::new();
        let lower = input.text.to_lowercase();
        for word in lower.split(|c: char| !c.is_alphanumeric()) {
            if let Some(k) = SEED_KEYWORDS.iter().find(|k| **k == word)
                && !reasons.iter().any(|r: &Reason| r.evidence == *k)
            {
                reasons.push(Reason {
                    code: "keyword".into(),
                    category: None,
                    evidence: (*k).to_owned(),
                });
            }
        }
        if input.state.negative_count >= 2 {
            reasons.push(Reason {
                code: "sentiment_streak".into(),
                category: None,
                evidence: format!("{} negative messages", input.state.negative_count),
            });
        }
        Decision {
            escalate: !reasons.is_empty(),
            reasons,
            category: None,
            priority: None,
            target: None,
            offers: Vec::new(),
        }
    }

    fn version(&self) -> &str {
        "seed-1"
    }
}
