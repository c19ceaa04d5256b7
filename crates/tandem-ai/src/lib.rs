//! Built-in, offline AI providers: the knowledge-base bot and sentiment analysis.
//!
//! The built-in providers download no model and never call the network; the optional
//! OpenAI-compatible ones call only the endpoint an operator configures:
//! * [`KnowledgeBot`] implements [`tandem_core::ai::Bot`] over a [`KnowledgeBase`] of
//!   intents (training phrases, answers, buttons, needed slots) loaded from TOML; the
//!   shipped sample is `config/knowledge.toml` ([`KnowledgeBase::builtin`]). Messages are
//!   matched by TF-IDF cosine similarity after normalisation (see `index.rs`).
//! * [`BuiltinIntents`] implements [`tandem_core::ai::IntentClassifier`] with an
//!   [`IntentModel`]: logistic regression over hashed word and character n-grams, trained
//!   deterministically on the shipped corpus (`data/intents/`), with calibrated
//!   confidence, a speech act (question, request, statement) and a negation flag.
//! * [`Vader`] implements [`tandem_core::ai::SentimentAnalyzer`] with a port of VADER and
//!   its lexicon.
//! * [`BuiltinSummarizer`] implements [`tandem_core::ai::Summarizer`]: the deterministic
//!   handoff briefing.
//! * [`OpenAiSummarizer`] and [`OpenAiSentiment`]: optional, over any OpenAI-compatible
//!   endpoint, each with a timeout and the built-in provider as fallback.
//! * Bots besides the built-in one, each with a timeout and the [`KnowledgeBot`] standing
//!   in when its backend fails: [`LlmBot`] (an OpenAI-compatible model answering only from
//!   the best-matching knowledge-base entries, [`I_DONT_KNOW`] being a fallback) and
//!   [`RasaBot`] (Rasa's REST channel), [`HttpBot`] (Tandem's signed HTTP bot contract). [`ChannelBots`] picks a bot per channel.

mod bot;
mod http_bot;
mod index;
pub(crate) mod intent;
mod kb;
mod llm_bot;
mod openai;
mod rasa;
mod route;
mod slots;
mod summary;
mod text;
mod vader;

pub use bot::{KNOWLEDGE, KnowledgeBot, SLOT_FOLLOW_UP_CONFIDENCE};
pub use http_bot::{HTTP, HTTP_BOT_VERSION, HttpBot, HttpBotConfig};
pub use intent::{BuiltinIntents, IntentModel, TRAINING_DATA, TrainingRow, parse_training};
pub use kb::{BUILTIN_TOML, DEFAULT_THRESHOLD, Intent, KbError, KnowledgeBase};
pub use llm_bot::{DEFAULT_ENTRIES, I_DONT_KNOW, LLM, LlmBot, MAX_ANSWER_CHARS};
pub use openai::{Chat, OpenAiClient, OpenAiConfig, OpenAiSentiment, OpenAiSummarizer};
pub use rasa::{RASA, RasaBot, RasaConfig};
pub use route::ChannelBots;
pub use slots::{SlotKind, extract_slots};
pub use summary::{BuiltinSummarizer, summarize};
pub use vader::{Polarity, Vader};

#[cfg(test)]
mod tests;
