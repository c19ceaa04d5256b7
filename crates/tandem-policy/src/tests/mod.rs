//! Unit tests of the policy engine: matching, every trigger, validation and versions.

mod intents;
mod matching;
mod scorecard;
mod triggers;
mod validation;

use crate::PolicyEngine;
use std::collections::BTreeMap;
use tandem_core::ai::{BotAnswer, IntentSignal};
use tandem_core::policy::{Decision, EscalationPolicy, PastContact, PolicyInput};
use tandem_core::store::{ConversationState, CustomerRecord};
use tandem_model::{ChannelId, CustomerId, Timestamp};

/// 2026-01-01 09:00 UTC.
pub(crate) fn now() -> Timestamp {
    time::macros::datetime!(2026-01-01 09:00 UTC)
}

pub(crate) fn customer(segment: Option<&str>) -> CustomerRecord {
    CustomerRecord {
        id: CustomerId::new("c1"),
        display_name: None,
        segment: segment.map(str::to_owned),
        attributes: BTreeMap::new(),
        created_at: now(),
    }
}

/// A confident bot answer for `intent`, or a fallback for `None`.
pub(crate) fn bot(intent: Option<&str>, confidence: f32) -> BotAnswer {
    BotAnswer {
        intent: intent.map(str::to_owned),
        confidence,
        fallback: intent.is_none(),
        ..BotAnswer::default()
    }
}

/// One evaluation.
pub(crate) struct Case<'a> {
    pub text: &'a str,
    pub sentiment: f32,
    pub state: ConversationState,
    pub customer: CustomerRecord,
    pub bot: BotAnswer,
    pub intent: Option<IntentSignal>,
    pub history: Vec<PastContact>,
}

impl<'a> Case<'a> {
    /// `text`, neutral, the bot answering `greeting`-like small talk with full confidence.
    pub(crate) fn new(text: &'a str) -> Self {
        Case {
            text,
            sentiment: 0.0,
            state: ConversationState::default(),
            customer: customer(None),
            bot: bot(Some("small_talk"), 1.0),
            intent: None,
            history: Vec::new(),
        }
    }

    pub(crate) fn eval(&self, engine: &PolicyEngine) -> Decision {
        let channel = ChannelId::new("webchat");
        engine.evaluate(&PolicyInput {
            text: self.text,
            channel: &channel,
            sentiment: self.sentiment,
            state: &self.state,
            customer: &self.customer,
            bot: &self.bot,
            intent: self.intent.as_ref(),
            now: now(),
            history: &self.history,
        })
    }
}

/// The evidence of every reason, `code:evidence`.
pub(crate) fn labels(d: &Decision) -> Vec<String> {
    d.reasons
        .iter()
        .map(|r| format!("{}:{}", r.code, r.evidence))
        .collect()
}

/// A small policy around `extra` (TOML appended after the required categories).
pub(crate) fn policy(extra: &str) -> PolicyEngine {
    let text = format!(
        r#"
[[categories]]
name = "human_request"
target = "lead"
priority = "medium"

[[categories]]
name = "distress"
target = "lead"
priority = "medium"
{extra}
"#
    );
    PolicyEngine::from_toml_str(&text).unwrap_or_else(|e| panic!("{e:#?}"))
}
