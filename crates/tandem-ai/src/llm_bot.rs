//! [`LlmBot`]: a [`Bot`] over any OpenAI-compatible Chat Completions endpoint, grounded on
//! the knowledge base.
//!
//! For each message the knowledge base's own scorer ([`KnowledgeBot::rank`]) picks the
//! best-matching entries; only those go into the prompt, with the instruction to answer
//! from them alone and to answer exactly [`I_DONT_KNOW`] when they do not cover the
//! question. Outcomes:
//! * a usable answer: that text is the reply (intent and confidence are the best entry's);
//! * [`I_DONT_KNOW`], an empty, unreadable or oversized answer, or no matching entry at all:
//!   a **fallback** (the knowledge base's fallback reply, `fallback = true`), which the
//!   escalation policy counts like the built-in bot's;
//! * timeout, transport error or an error status: the built-in [`KnowledgeBot`] answers.
//!
//! Privacy: the customer's message and the matching entries are sent to the endpoint.
//! Nothing is sent unless an operator sets `[bot] kind = "llm"`.

use crate::bot::{KnowledgeBot, fill};
use crate::openai::{Chat, OpenAiClient};
use crate::slots::extract_slots;
use async_trait::async_trait;
use std::fmt::Write as _;
use std::sync::Arc;
use tandem_core::ai::{AiCall, Bot, BotAnswer, BotQuestion};

/// The [`AiCall::provider`] of the LLM bot's answers (its `[bot] kind`).
pub const LLM: &str = "llm";

/// What the model answers when the entries do not cover the question.
pub const I_DONT_KNOW: &str = "I_DONT_KNOW";

/// Longest answer taken from the model, in characters; anything longer is a fallback.
pub const MAX_ANSWER_CHARS: usize = 2000;

/// Knowledge-base entries put in the prompt when the config does not say.
pub const DEFAULT_ENTRIES: usize = 3;

const SYSTEM_PROMPT: &str = "You are a customer-service assistant. Answer the customer's message using ONLY the knowledge-base entries given. \
Be brief and friendly; reply in the customer's language; do not invent facts, prices, dates or policies. \
If the entries do not answer the message, reply with exactly I_DONT_KNOW and nothing else.";

/// The LLM bot; the built-in bot retrieves entries and stands in when the endpoint fails.
#[derive(Debug, Clone)]
pub struct LlmBot {
    client: OpenAiClient,
    builtin: Arc<KnowledgeBot>,
    entries: usize,
}

impl LlmBot {
    /// A bot asking `client`, grounded on `builtin`'s knowledge base, with at most
    /// `entries` entries (at least 1) in each prompt.
    pub fn new(client: OpenAiClient, builtin: Arc<KnowledgeBot>, entries: usize) -> Self {
        Self {
            client,
            builtin,
            entries: entries.max(1),
        }
    }

    /// The user message of the prompt for `question`: the best entries, then the
    /// customer's message. `None` when no entry matches at all.
    pub fn prompt(&self, question: &BotQuestion<'_>) -> Option<String> {
        let kb = self.builtin.knowledge_base();
        let mut slots = extract_slots(question.text);
        for (k, v) in question.slots {
            slots.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let ranked: Vec<(&str, f32)> = self
            .builtin
            .rank(question.text)
            .into_iter()
            .filter(|&(_, score)| score > 0.0)
            .take(self.entries)
            .collect();
        if ranked.is_empty() {
            return None;
        }
        let mut out = String::from("Knowledge-base entries:\n");
        for (n, (name, _)) in ranked.iter().enumerate() {
            let Some(intent) = kb.intent(name) else {
                continue;
            };
            let answer = fill(&intent.answer, |slot| slots.get(slot));
            let asks: Vec<&str> = intent.phrases.iter().take(3).map(String::as_str).collect();
            let _ = write!(
                out,
                "\n[{}] Customers ask: {}\nAnswer: {}\n",
                n + 1,
                asks.join(" / "),
                answer
            );
            if let (Some(needs), Some(ask)) = (intent.answer_needs, &intent.ask)
                && !slots.contains_key(needs.name())
            {
                let _ = writeln!(
                    out,
                    "(This answer needs the customer's {}; if it is missing, ask: {ask})",
                    needs.name().replace('_', " ")
                );
            }
        }
        let _ = write!(out, "\nCustomer message:\n{}", question.text);
        Some(out)
    }

    fn fallback(
        &self,
        question: &BotQuestion<'_>,
        best: Option<(&str, f32)>,
        call: AiCall,
    ) -> BotAnswer {
        let kb = self.builtin.knowledge_base();
        BotAnswer {
            intent: best.map(|(name, _)| name.to_owned()),
            confidence: best.map_or(0.0, |(_, s)| s),
            fallback: true,
            text: kb.fallback.clone(),
            buttons: kb.fallback_buttons.clone(),
            slots: extract_slots(question.text),
            call: Some(call),
        }
    }
}

/// The model's reply as the customer should see it, or `None` when it is the sentinel,
/// empty or implausible.
pub(crate) fn usable(reply: &str) -> Option<String> {
    let text = reply.trim();
    let bare = text.trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace());
    if bare.is_empty()
        || bare.contains(I_DONT_KNOW)
        || text.chars().count() > MAX_ANSWER_CHARS
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return None;
    }
    Some(text.to_owned())
}

#[async_trait]
impl Bot for LlmBot {
    async fn answer(&self, question: BotQuestion<'_>) -> BotAnswer {
        let best = self
            .builtin
            .rank(question.text)
            .into_iter()
            .next()
            .filter(|&(_, s)| s > 0.0);
        let Some(prompt) = self.prompt(&question) else {
            // Nothing in the knowledge base to ground an answer on: the model is not asked.
            let call = AiCall::new(LLM).with_model(self.client.model());
            return self.fallback(&question, best, call);
        };
        let (chat, call) = self.client.exchange(SYSTEM_PROMPT, &prompt, false).await;
        let call = call.with_provider(LLM);
        match chat {
            Chat::Reply(reply) => match usable(&reply) {
                Some(text) => BotAnswer {
                    intent: best.map(|(name, _)| name.to_owned()),
                    confidence: best.map_or(0.0, |(_, s)| s),
                    fallback: false,
                    text,
                    buttons: Vec::new(),
                    slots: extract_slots(question.text),
                    call: Some(call),
                },
                None => self.fallback(&question, best, call),
            },
            Chat::Unusable => self.fallback(&question, best, call),
            Chat::Failed => BotAnswer {
                call: Some(call),
                ..self.builtin.respond(question)
            },
        }
    }

    fn greeting(&self) -> Option<String> {
        self.builtin.greeting()
    }
}
