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
