//! [`KnowledgeBot`]: the built-in, offline [`Bot`]. It matches each message against the
//! knowledge base's training phrases (see [`crate::index`] for the scoring), answers the
//! best intent above the threshold, asks for a missing slot (an order number) and
//! resumes the pending intent when the customer replies with just that slot.

use crate::index::Index;
use crate::kb::{Intent, KnowledgeBase};
use crate::slots::extract_slots;
use async_trait::async_trait;
use std::collections::BTreeMap;
use tandem_core::ai::{AiCall, Bot, BotAnswer, BotQuestion};

/// Confidence reported when a message answers the bot's own slot question ("it's 12345"
/// right after "What's your order number?"): the words say little, but the context is
/// unambiguous, so it counts as nearly as sure as a training phrase.
pub const SLOT_FOLLOW_UP_CONFIDENCE: f32 = 0.9;

/// The [`AiCall::provider`] of the knowledge-base bot's answers (its `[bot] kind`).
pub const KNOWLEDGE: &str = "knowledge";

/// The knowledge-base bot. Construction precomputes the TF-IDF index; answering a
/// message only tokenises it and walks the posting lists of its terms.
#[derive(Debug, Clone)]
pub struct KnowledgeBot {
    kb: KnowledgeBase,
    index: Index,
}

impl KnowledgeBot {
    /// A bot answering from `kb`.
    pub fn new(kb: KnowledgeBase) -> Self {
        let phrases: Vec<Vec<String>> = kb.intents.iter().map(|i| i.phrases.clone()).collect();
        let index = Index::build(&phrases);
        KnowledgeBot { kb, index }
    }

    /// A bot answering from the shipped sample knowledge base.
    pub fn builtin() -> Self {
        Self::new(KnowledgeBase::builtin())
    }

    /// The knowledge base this bot answers from.
    pub fn knowledge_base(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// Every intent with its confidence for `text`, best first (ties in file order).
    pub fn rank(&self, text: &str) -> Vec<(&str, f32)> {
        let mut ranked: Vec<(&str, f32)> = self
            .kb
            .intents
            .iter()
            .zip(self.index.score(text))
            .map(|(intent, score)| (intent.name.as_str(), score))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked
    }

    /// Answers one message; what [`Bot::answer`] returns, without the `async`.
    pub fn respond(&self, question: BotQuestion<'_>) -> BotAnswer {
        let slots = extract_slots(question.text);
        let scores = self.index.score(question.text);
        let best = scores
            .iter()
            .enumerate()
            .fold(None, |best: Option<(usize, f32)>, (i, &s)| match best {
                Some((_, b)) if b >= s => best,
                _ => Some((i, s)),
            })
            .filter(|&(_, s)| s > 0.0);
        let confident = best.filter(|&(_, s)| s >= self.kb.threshold);

        // "it's 12345" right after the bot asked for the order number: resume that intent,
        // unless the message is clearly about something else.
        if let Some(pending) = question
            .last_intent
            .and_then(|name| self.pending(name, &slots))
        {
            let same = confident.is_some_and(|(b, _)| self.kb.intents[b].name == pending.name);
            if confident.is_none() || same {
                let confidence = confident
                    .map_or(0.0, |(_, s)| s)
                    .max(SLOT_FOLLOW_UP_CONFIDENCE);
                return self.reply(pending, confidence, slots, question.slots);
            }
        }

        match confident {
            Some((i, confidence)) => {
                self.reply(&self.kb.intents[i], confidence, slots, question.slots)
            }
            None => BotAnswer {
                intent: best.map(|(i, _)| self.kb.intents[i].name.clone()),
                confidence: best.map_or(0.0, |(_, s)| s),
                fallback: true,
                text: self.kb.fallback.clone(),
                buttons: self.kb.fallback_buttons.clone(),
                slots,
                call: Some(AiCall::new(KNOWLEDGE)),
            },
        }
    }

    /// The intent named `last` if it needs a slot that this message provides.
    fn pending(&self, last: &str, slots: &BTreeMap<String, String>) -> Option<&Intent> {
        let intent = self.kb.intent(last)?;
        let needs = intent.answer_needs?;
        slots.contains_key(needs.name()).then_some(intent)
    }

    /// The answer of `intent`, or its `ask` question when the needed slot is in neither
    /// this message's slots nor the conversation's.
    fn reply(
        &self,
        intent: &Intent,
        confidence: f32,
        slots: BTreeMap<String, String>,
        known_slots: &BTreeMap<String, String>,
    ) -> BotAnswer {
        let lookup = |name: &str| slots.get(name).or_else(|| known_slots.get(name));
        let (text, buttons) = match (intent.answer_needs, &intent.ask) {
            (Some(needs), Some(ask)) if lookup(needs.name()).is_none() => (ask.clone(), Vec::new()),
            _ => (fill(&intent.answer, lookup), intent.buttons.clone()),
        };
        BotAnswer {
            intent: Some(intent.name.clone()),
            confidence,
            fallback: false,
            text,
            buttons,
            slots,
            call: Some(AiCall::new(KNOWLEDGE)),
        }
    }
}

/// Replaces each `{slot}` in `template` with its value; unknown placeholders stay as
/// they are (the knowledge-base validation makes sure the needed slot is present).
pub(crate) fn fill<'a>(template: &str, lookup: impl Fn(&str) -> Option<&'a String>) -> String {
    let mut out = template.to_owned();
    for name in crate::kb::placeholders(template) {
        if let Some(value) = lookup(name) {
            out = out.replace(&format!("{{{name}}}"), value);
        }
    }
    out
}

#[async_trait]
impl Bot for KnowledgeBot {
    async fn answer(&self, question: BotQuestion<'_>) -> BotAnswer {
        self.respond(question)
    }

    fn greeting(&self) -> Option<String> {
        self.kb.greeting.clone()
    }
}
