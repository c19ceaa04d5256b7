//! The escalation hook: decides, per customer message, whether a human must take over.
//!
//! [`SeedPolicy`] is the walking skeleton's rule (keywords refund/cancel/angry/lawsuit, or
//! a second negative message); the full policy engine implements [`EscalationPolicy`] too.

use crate::ai::BotAnswer;
use crate::store::{ConversationState, CustomerRecord, Reason};
use tandem_model::ChannelId;

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
    /// When the message is evaluated (time-based triggers use it; never the system clock).
    pub now: tandem_model::Timestamp,
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
}

/// Decides escalations. Pure: no I/O, no clock.
pub trait EscalationPolicy: Send + Sync + 'static {
    /// Evaluates one customer message.
    fn evaluate(&self, input: &PolicyInput<'_>) -> Decision;

    /// The policy's version (content hash), recorded with every decision.
    fn version(&self) -> &str;

    /// Compound score below which a message counts as negative.
    fn negative_threshold(&self) -> f32 {
        -0.3
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
        }
    }

    fn version(&self) -> &str {
        "seed-1"
    }
}
