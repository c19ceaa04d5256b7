//! The hooks the router calls for understanding messages: the bot and sentiment.
//! Built-in offline implementations live in `tandem-ai`; an OpenAI-compatible provider can
//! implement the same traits. The [`Bot`] trait itself is part of the SDK
//! (`tandem_sdk::bot`) and re-exported here.

use async_trait::async_trait;
use std::time::Duration;

pub use tandem_sdk::bot::{AiCall, Bot, BotAnswer, BotQuestion};

pub use crate::intent::{IntentSignal, SpeechAct};

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
