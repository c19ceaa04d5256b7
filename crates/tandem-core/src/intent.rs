//! What the AI hooks say about a customer message (intent, sentiment, the bot's answer,
//! the briefing's summary): plain data the policy and the engine read, apart from the
//! hooks in [`crate::ai`] (which re-exports it).

use std::time::Duration;
use tandem_sdk::bot::{AiCall, BotAnswer};

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

/// The sentiment of one message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sentiment {
    /// Compound score in [-1, 1] (VADER's normalisation).
    pub compound: f32,
    /// How it was scored, for the AI audit trail; `None` when the analyzer says nothing
    /// about it.
    pub call: Option<AiCall>,
}

impl Sentiment {
    /// A score with nothing said about how it was reached.
    pub fn new(compound: f32) -> Self {
        Self {
            compound,
            call: None,
        }
    }

    /// `positive` (compound at least 0.05), `negative` (at most -0.05) or `neutral`:
    /// VADER's usual cut-offs.
    pub fn label(compound: f32) -> &'static str {
        if compound >= 0.05 {
            "positive"
        } else if compound <= -0.05 {
            "negative"
        } else {
            "neutral"
        }
    }
}

/// The briefing fields a summarizer fills.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BriefingSummary {
    /// What the customer wants (KB intent or category).
    pub intent: Option<String>,
    /// What the bot already tried.
    pub attempted: Vec<String>,
    /// Where it stalled.
    pub status: String,
    /// `positive`, `neutral`, `negative` or `worsening`.
    pub sentiment: String,
    /// A short text an agent reads in three seconds.
    pub text: String,
    /// Which summarizer wrote it and how, for the AI audit trail; `None` when the
    /// summarizer says nothing about it.
    pub call: Option<AiCall>,
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

/// How `turn::understand`'s hooks decided: the sentiment analyzer's call (the bot's and the
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
