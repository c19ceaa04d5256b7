//! What an intent classifier says about a customer message: plain data the policy reads,
//! apart from the hooks in [`crate::ai`] (which re-exports it).

use tandem_sdk::bot::AiCall;

/// What a customer message does: asks about something, asks for something to be done,
/// or states something (a problem, a fact, a greeting).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SpeechAct {
    /// "how do refunds work?": information is wanted.
    Question,
    /// "I want a refund", "can you refund me?": an action is wanted.
    Request,
    /// "I was charged twice", "hi": a report or small talk.
    #[default]
    Statement,
}

impl SpeechAct {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SpeechAct::Question => "question",
            SpeechAct::Request => "request",
            SpeechAct::Statement => "statement",
        }
    }
}

/// What an intent classifier says about one customer message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntentSignal {
    /// The most likely intent (`refund_demand`, `refund_policy`, ...).
    pub intent: String,
    /// Its calibrated probability, in [0, 1].
    pub confidence: f32,
    /// Whether the customer asks about something, asks for it, or states something.
    pub act: SpeechAct,
    /// The probability of `act`.
    pub act_confidence: f32,
    /// Whether the customer says they do *not* want something ("I don't want to cancel").
    pub negated: bool,
    /// How it was classified, for the AI audit trail; `None` when the classifier says
    /// nothing about it.
    pub call: Option<AiCall>,
}
