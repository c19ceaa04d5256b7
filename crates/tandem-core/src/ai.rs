//! The hooks the router calls for understanding messages: the bot and sentiment.
//! Built-in offline implementations live in `tandem-ai`; an OpenAI-compatible provider can
//! implement the same traits. The [`Bot`] trait itself is part of the SDK
//! (`tandem_sdk::bot`) and re-exported here.

use async_trait::async_trait;

pub use tandem_sdk::bot::{AiCall, Bot, BotAnswer, BotQuestion};

pub use crate::intent::{
    BriefingSummary, IntentSignal, Sentiment, SpeechAct, Understanding, UnderstandingTrace,
};

/// Classifies what a customer message is about, for the escalation policy (the bot's own
/// intent, [`BotAnswer::intent`], is what the bot answers; this is what the customer
/// wants, from a fixed set of intents the policy maps to categories).
#[async_trait]
pub trait IntentClassifier: Send + Sync + 'static {
    /// Classifies one message. Never fails: a provider that cannot answer falls back to
    /// a built-in model, or says nothing (`None`).
    async fn classify(&self, text: &str) -> Option<IntentSignal>;
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
    pub state: &'a crate::records::ConversationState,
    /// The escalation decision.
    pub decision: &'a crate::policy::Decision,
    /// The customer's display name, when known.
    pub customer_name: Option<&'a str>,
}

/// Writes handoff briefings.
#[async_trait]
pub trait Summarizer: Send + Sync + 'static {
    /// Summarizes a conversation for an agent. Never fails: a provider that cannot answer
    /// falls back to a deterministic summary.
    async fn summarize(&self, input: BriefingInput<'_>) -> BriefingSummary;
}
