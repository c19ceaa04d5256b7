//! The hooks the router calls for understanding messages: the bot and sentiment.
//! Built-in offline implementations live in `tandem-ai`; an OpenAI-compatible provider can
//! implement the same traits. The [`Bot`] trait itself is part of the SDK
//! (`tandem_sdk::bot`) and re-exported here.

use async_trait::async_trait;

pub use tandem_sdk::bot::{AiCall, Bot, BotAnswer, BotQuestion};

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

/// Classifies what a customer message is about, for the escalation policy (the bot's own
/// intent, [`BotAnswer::intent`], is what the bot answers; this is what the customer
/// wants, from a fixed set of intents the policy maps to categories).
#[async_trait]
pub trait IntentClassifier: Send + Sync + 'static {
    /// Classifies one message. Never fails: a provider that cannot answer falls back to
    /// a built-in model, or says nothing (`None`).
    async fn classify(&self, text: &str) -> Option<IntentSignal>;
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

/// Scores the sentiment of customer messages.
#[async_trait]
pub trait SentimentAnalyzer: Send + Sync + 'static {
    /// Scores one message.
    async fn analyze(&self, text: &str) -> Sentiment;
}

/// What a summarizer reads to brief an agent.
#[derive(Debug, Clone, Copy)]
pub struct BriefingInput<'a> {
    /// The newest transcript entries, oldest first (including the triggering message).
    pub transcript: &'a [tandem_model::TranscriptEntry],
    /// The conversation state after the triggering message.
    pub state: &'a crate::store::ConversationState,
    /// The escalation decision.
    pub decision: &'a crate::policy::Decision,
    /// The customer's display name, when known.
    pub customer_name: Option<&'a str>,
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

/// Writes handoff briefings.
#[async_trait]
pub trait Summarizer: Send + Sync + 'static {
    /// Summarizes a conversation for an agent. Never fails: a provider that cannot answer
    /// falls back to a deterministic summary.
    async fn summarize(&self, input: BriefingInput<'_>) -> BriefingSummary;
}
