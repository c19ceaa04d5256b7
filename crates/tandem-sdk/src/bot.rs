//! The bot boundary: what answers a customer while no person does.
//!
//! The core asks one [`Bot`] about every customer message the bot owns. The built-in
//! implementation is the knowledge-base bot (`tandem_ai::KnowledgeBot`); `tandem-ai` also
//! has bots over an OpenAI-compatible model (grounded on the knowledge base) and over
//! Rasa's REST channel, and the server picks one per channel from `[bot]` (see
//! `docs/INTERFACE.md`). A third-party bot implements this trait and is handed to the
//! core in a custom binary, like an out-of-tree adapter.
//!
//! The rules a bot follows:
//! * **It never fails.** A bot that cannot reach its backend answers with the built-in
//!   bot instead (or its fallback), within its own timeout: the customer's turn waits for
//!   the answer.
//! * **Not knowing is a fallback**, not an error: `fallback = true` with the reply to send
//!   ("Sorry, I did not get that"). The escalation policy counts fallbacks in a row and
//!   offers a person after a few (`[behaviour] fallback_loop` in the policy).
//! * **Outside answers are untrusted input**: an empty, garbled or oversized answer from a
//!   backend is a fallback and never a panic; message text never goes to logs at INFO or
//!   above.

use async_trait::async_trait;
use std::collections::BTreeMap;
use tandem_model::Button;

/// What the bot is asked.
#[derive(Debug, Clone, Copy)]
pub struct BotQuestion<'a> {
    /// The customer's text (a postback's payload or title for button clicks).
    pub text: &'a str,
    /// Slots collected earlier in the conversation (e.g. `order_number`).
    pub slots: &'a BTreeMap<String, String>,
    /// The intent of the previous answered message.
    pub last_intent: Option<&'a str>,
    /// The channel instance the message came from (`telegram`, `webchat`, ...); empty
    /// when there is none (`tandem policy test`).
    pub channel: &'a str,
    /// The conversation id: a stable key for bots that keep their own dialogue state
    /// (Rasa's `sender`); empty when there is none.
    pub conversation: &'a str,
}

/// The bot's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BotAnswer {
    /// The best-matching intent, even below the threshold.
    pub intent: Option<String>,
    /// Confidence of that intent, in [0, 1].
    pub confidence: f32,
    /// True when the bot does not know the answer and `text` is the fallback reply.
    pub fallback: bool,
    /// The reply to send.
    pub text: String,
    /// Buttons offered with the reply.
    pub buttons: Vec<Button>,
    /// Slots extracted from this message (merged into the conversation's slots).
    pub slots: BTreeMap<String, String>,
    /// How the answer was reached, for the conversation's AI audit trail (see [`AiCall`]);
    /// `None` when the bot says nothing about it (the audit then names no provider).
    pub call: Option<AiCall>,
}

/// How one AI decision was reached: who decided, with which model, what was sent to a
/// backend and what it answered, and whether a stand-in decided because the backend
/// failed. The core stores it with the conversation (the AI audit records of the admin
/// API), measures the latency itself, and keeps only SHA-256 hashes of `request` and
/// `response` when `[ai] store_prompts = false`. Never logged.
///
/// Built with [`AiCall::new`] and the `with_*` methods, so fields can be added later.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AiCall {
    /// Who decided: a bot kind (`knowledge`, `llm`, `rasa`, `http`), a provider
    /// (`builtin`, `openai`), or a third-party bot's own name.
    pub provider: String,
    /// The model, when the provider has one.
    pub model: Option<String>,
    /// What was sent to the backend (a prompt, a request body), when one was called.
    pub request: Option<String>,
    /// What the backend answered (its text, before any check), when it answered.
    pub response: Option<String>,
    /// True when the backend failed or answered something unusable and a stand-in (the
    /// built-in bot, VADER, the deterministic summary) decided instead.
    pub fell_back: bool,
    /// Why the backend was not used: `timeout`, `connect`, `status 503`, `unusable
    /// answer`. Never message text.
    pub error: Option<String>,
}

impl AiCall {
    /// A decision by `provider`, nothing sent anywhere.
    pub fn new(provider: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            ..Self::default()
        }
    }

    /// With the model that decided.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// With what was sent to the backend.
    #[must_use]
    pub fn with_request(mut self, request: impl Into<String>) -> Self {
        self.request = Some(request.into());
        self
    }

    /// With what the backend answered.
    #[must_use]
    pub fn with_response(mut self, response: impl Into<String>) -> Self {
        self.response = Some(response.into());
        self
    }

    /// With the provider renamed (a bot over a shared client names itself).
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = provider.into();
        self
    }

    /// Marks that a stand-in decided because of `error` (`timeout`, `status 503`, ...).
    #[must_use]
    pub fn with_fallback(mut self, error: impl Into<String>) -> Self {
        self.fell_back = true;
        self.error = Some(error.into());
        self
    }
}

/// Answers customer messages. Held as `Arc<dyn Bot>`.
#[async_trait]
pub trait Bot: Send + Sync + 'static {
    /// Answers one message. Never fails: when the bot does not know, it returns its
    /// fallback reply with `fallback = true`.
    async fn answer(&self, question: BotQuestion<'_>) -> BotAnswer;

    /// A greeting for a new conversation, if the bot has one.
    fn greeting(&self) -> Option<String> {
        None
    }
}
