//! The AI audit trail: every AI decision a turn is built on (the sentiment score, the
//! intent classifier's reading, the bot's answer, a handoff's briefing) becomes an
//! [`AiAuditRecord`] committed with that turn, so a conversation's decisions are stored
//! exactly when its transcript is.
//!
//! Who decided and what was exchanged with a backend comes from the provider's
//! [`AiCall`] (`None`: the provider said nothing, the record names no provider); the
//! latency is measured here, around the hook, so it is what the customer's turn waited.
//! With `[ai] store_prompts = false` ([`CoreConfig::store_prompts`](crate::CoreConfig))
//! only the SHA-256 of the request and the response are kept. Nothing of a record is
//! logged.

use crate::ai::Understanding;
use crate::ai::{AiCall, BotAnswer, BriefingSummary, IntentSignal, Sentiment};
use crate::store::{AiAuditKind, AiAuditRecord};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tandem_model::{ConversationId, CustomerId, Timestamp};

/// Most characters of a request or response kept in a record; a longer text is cut
/// (its hash, in hash mode, is of the whole text).
pub const MAX_AUDIT_TEXT: usize = 32 * 1024;

/// What the cut-off end of a longer text is replaced with.
pub const TRUNCATED_MARK: &str = "…[truncated]";

/// Where the decisions of one turn belong.
#[derive(Debug, Clone, Copy)]
pub struct AuditScope<'a> {
    /// The conversation.
    pub conversation: &'a ConversationId,
    /// The customer.
    pub customer: &'a CustomerId,
    /// The transcript `seq` of the message decided about.
    pub message_seq: u64,
    /// When (the turn's time).
    pub at: Timestamp,
    /// Keep request and response texts (true) or only their SHA-256 (false).
    pub store_prompts: bool,
}

impl AuditScope<'_> {
    /// A record of `kind` carrying what `call` says, before the kind's own fields.
    pub fn record(
        &self,
        kind: AiAuditKind,
        call: Option<&AiCall>,
        latency: Duration,
    ) -> AiAuditRecord {
        let mut record = AiAuditRecord {
            id: format!("ai_{}", uuid_v7()),
            conversation_id: self.conversation.clone(),
            customer_id: self.customer.clone(),
            message_seq: self.message_seq,
            at: self.at,
            kind,
            provider: None,
            model: None,
            intent: None,
            confidence: None,
            sentiment: None,
            sentiment_label: None,
            fallback: false,
            fell_back: false,
            error: None,
            request: None,
            response: None,
            request_sha256: None,
            response_sha256: None,
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        };
        if let Some(call) = call {
            record.provider = Some(call.provider.clone()).filter(|p| !p.is_empty());
            record.model.clone_from(&call.model);
            record.fell_back = call.fell_back;
            record.error.clone_from(&call.error);
            if self.store_prompts {
                record.request = call.request.as_deref().map(cut);
                record.response = call.response.as_deref().map(cut);
            } else {
                record.request_sha256 = call.request.as_deref().map(sha256_hex);
                record.response_sha256 = call.response.as_deref().map(sha256_hex);
            }
        }
        record
    }

    /// The record of a bot's answer.
    pub fn bot_answer(&self, answer: &BotAnswer, latency: Duration) -> AiAuditRecord {
        let mut r = self.record(AiAuditKind::BotAnswer, answer.call.as_ref(), latency);
        r.intent.clone_from(&answer.intent);
        r.confidence = Some(answer.confidence);
        r.fallback = answer.fallback;
        r
    }

    /// The record of the intent classifier's reading.
    pub fn intent(&self, signal: &IntentSignal, latency: Duration) -> AiAuditRecord {
        let mut r = self.record(AiAuditKind::Intent, signal.call.as_ref(), latency);
        r.intent = Some(signal.intent.clone());
        r.confidence = Some(signal.confidence);
        r
    }

    /// The record of a sentiment score.
    pub fn sentiment(&self, score: &Sentiment, latency: Duration) -> AiAuditRecord {
        let mut r = self.record(AiAuditKind::Sentiment, score.call.as_ref(), latency);
        r.sentiment = Some(score.compound);
        r.sentiment_label = Some(Sentiment::label(score.compound).to_owned());
        r
    }

    /// The record of a handoff briefing.
    pub fn briefing(&self, summary: &BriefingSummary, latency: Duration) -> AiAuditRecord {
        let mut r = self.record(AiAuditKind::BriefingSummary, summary.call.as_ref(), latency);
        r.intent.clone_from(&summary.intent);
        r.sentiment_label = Some(summary.sentiment.clone()).filter(|s| !s.is_empty());
        r
    }

    /// The records of [`understand`](crate::turn::understand)'s three hooks, in the order
    /// they ran: sentiment, intent (with a classifier), the bot's answer.
    pub fn understanding(&self, u: &Understanding) -> Vec<AiAuditRecord> {
        let trace = &u.trace;
        let score = Sentiment {
            compound: u.sentiment,
            call: trace.sentiment_call.clone(),
        };
        let mut out = vec![self.sentiment(&score, trace.sentiment)];
        if let Some(signal) = &u.intent {
            out.push(self.intent(signal, trace.intent));
        }
        out.push(self.bot_answer(&u.answer, trace.bot));
        out
    }
}

/// Lowercase hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `text`, cut to [`MAX_AUDIT_TEXT`] characters.
fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_AUDIT_TEXT) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}{TRUNCATED_MARK}", &text[..end]),
    }
}

/// A time-ordered id: ids generated later in a process sort after earlier ones.
fn uuid_v7() -> String {
    // `MessageId::generate` is `msg_<uuid v7>`; its uuid part is reused here.
    let id = tandem_model::MessageId::generate();
    id.as_str()
        .strip_prefix("msg_")
        .unwrap_or(id.as_str())
        .to_owned()
}

#[cfg(test)]
mod tests;
