//! The records Tandem keeps (conversations, customers, handoffs, turns, outbox entries,
//! timers): plain data, shared by the engine, which decides over them, and the store,
//! which keeps them (`crate::store` re-exports them all). They derive serde because
//! stores keep some parts as JSON (conversation state, outbox message);
//! `#[serde(default)]` keeps older rows readable.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tandem_model::{
    ChannelId, ConversationId, CustomerId, EscalationId, InboundMessage, OutboundMessage, OutboxId,
    Timestamp, TranscriptEntry,
};

/// The outcome of [`InboundLog::record_inbound`](crate::store::InboundLog::record_inbound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundRecord {
    /// Position in the inbound log.
    pub seq: u64,
    /// True when the key was already recorded.
    pub duplicate: bool,
}

/// A recorded, unprocessed inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingInbound {
    /// Position in the inbound log.
    pub seq: u64,
    /// The message as recorded.
    pub message: InboundMessage,
    /// When Tandem received it.
    pub received_at: Timestamp,
}

/// A customer.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerRecord {
    /// The id.
    pub id: CustomerId,
    /// Display name, when known.
    pub display_name: Option<String>,
    /// Segment (`vip`, `free`, ...), when set.
    pub segment: Option<String>,
    /// Free-form attributes.
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// When created.
    pub created_at: Timestamp,
}

/// One identity of a customer.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityRecord {
    /// The customer.
    pub customer_id: CustomerId,
    /// The channel instance.
    pub channel: ChannelId,
    /// The subject on that channel.
    pub subject: String,
    /// Whether the platform (or an admin) verified it.
    pub verified: bool,
    /// Who asserted it: `platform` (the channel reported it), `admin` (linked through the
    /// admin API), `link_code`.
    pub source: String,
    /// The verified email it carries, normalized (see [`VerifiedKey::email`]).
    pub verified_email: Option<String>,
    /// The verified phone it carries, normalized (see [`VerifiedKey::phone`]).
    pub verified_phone: Option<String>,
    /// When first seen.
    pub created_at: Timestamp,
}

/// Whether a conversation is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Messages continue it.
    Open,
    /// Ended; the next message opens a new one.
    Closed,
}

/// A conversation and its routing state.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRecord {
    /// The id.
    pub id: ConversationId,
    /// The customer.
    pub customer_id: CustomerId,
    /// The channel the customer last wrote on.
    pub channel: ChannelId,
    /// Open or closed.
    pub status: ConversationStatus,
    /// Routing state (owner, counters, last intent).
    pub state: ConversationState,
    /// The `seq` the next transcript entry gets.
    pub next_seq: u64,
    /// Optimistic-concurrency version, bumped by every committed turn.
    pub version: u64,
    /// When opened.
    pub opened_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// Who may speak to the customer right now. Exactly one owner at a time; the bot
/// sends nothing unless it owns the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// The bot answers.
    #[default]
    Bot,
    /// Waiting for an agent; the bot is silent.
    Queue,
    /// An agent owns it; the bot is silent.
    Agent,
    /// A person answers the customer outside Tandem (the Page Inbox, the WhatsApp
    /// Business app); the bot is silent until they have been quiet for
    /// `[handoff] external_release_after_secs` or are released explicitly.
    External,
}

/// Routing state of a conversation, stored as one document.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationState {
    /// Current owner.
    pub owner: Owner,
    /// Bot fallbacks in a row (reset by an answered message).
    pub fallback_count: u32,
    /// Negative customer messages since the last reset.
    pub negative_count: u32,
    /// The last intent the bot recognised.
    pub last_intent: Option<String>,
    /// Set once an escalation marked the conversation for handoff.
    pub handoff_requested: bool,
    /// When the customer last wrote, per channel instance (messaging windows).
    pub last_customer_message_at: BTreeMap<String, i64>,
    /// Free-form slots the bot collected (order number, ...).
    pub slots: BTreeMap<String, String>,
    /// Sentiment compound scores of the newest customer messages, oldest first (at most 10).
    pub sentiment_history: Vec<f32>,
    /// The open handoff, while a human is involved.
    pub handoff: Option<HandoffState>,
    /// Closed handoffs of this conversation, oldest first (the newest 10 are kept).
    pub past_handoffs: Vec<HandoffState>,
    /// A satisfaction survey waiting for the customer's answer.
    pub csat_pending: Option<CsatPending>,
    /// Set once the policy offered the customer a person (the "talk to a person" button
    /// or an AI-first reply); an AI-first segment then hands off the next request.
    pub human_offered: bool,
    /// Choices last offered as numbered text (the channel could not show them as
    /// buttons): a customer answering "2" picks the second one's payload.
    pub offered_choices: Vec<tandem_model::Button>,
    /// Set when the customer got an inactivity check-in; cleared when they write again.
    pub checked_in: bool,
    /// The buttons Tandem offered lately (any rendering, newest last, at most
    /// `turn::OFFERED_BUTTONS_KEPT`): a tap is matched against them, never read
    /// as typed text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub offered_buttons: Vec<tandem_model::Button>,
    /// While `owner` is `external`: when the person outside Tandem last wrote, unix ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_at_ms: Option<i64>,
    /// The customer's earlier conversations (their intent and when they opened) as they
    /// were when this one started, for `repeat_contact`: read from the store once per
    /// conversation, not once per message (earlier conversations are closed and no longer
    /// change; a customer has one open conversation). `None` until the first message the
    /// policy reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub past_contacts: Option<Vec<PastContact>>,
    /// The customer's answer to the survey of a conversation the bot handled alone
    /// (never handed off), once asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_csat: Option<Csat>,
    /// Replies waiting for an agent's approval (draft-only mode, see `drafts`),
    /// oldest first. Nothing of them reaches the customer until approved.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drafts: Vec<Draft>,
    /// What agents decided about this conversation's drafts (and which were withdrawn),
    /// oldest first; the newest [`ConversationState::DRAFT_LOG_KEPT`] are kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub draft_log: Vec<DraftRecord>,
}

/// Where a draft comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftSource {
    /// The bot's answer in a conversation the bot owns: sent as the bot when approved.
    Bot,
    /// The bot's suggestion to the agent of a handed-off conversation: sent as the
    /// approving agent's reply.
    Suggestion,
}

impl DraftSource {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DraftSource::Bot => "bot",
            DraftSource::Suggestion => "suggestion",
        }
    }
}

/// A reply waiting for an agent's approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    /// Unique within the conversation (`dr_…`).
    pub id: String,
    /// Bot answer or suggestion.
    pub source: DraftSource,
    /// The text that would be sent.
    pub text: String,
    /// Buttons offered with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<tandem_model::Button>,
    /// The customer message it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// The intent the bot recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// The bot's confidence, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// The policy category that selected draft-only mode, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The queue (policy target) that selected draft-only mode, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The open handoff a suggestion was made in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff_id: Option<String>,
    /// When drafted, unix ms.
    pub created_at_ms: i64,
}

/// What happened to a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftOutcome {
    /// Sent as drafted.
    Approved,
    /// Sent as the agent edited it.
    Edited,
    /// Never sent.
    Rejected,
    /// Never sent: the conversation moved on before anyone decided (a bot draft once
    /// the conversation was handed off, a suggestion once its handoff closed).
    Withdrawn,
}

impl DraftOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DraftOutcome::Approved => "approved",
            DraftOutcome::Edited => "edited",
            DraftOutcome::Rejected => "rejected",
            DraftOutcome::Withdrawn => "withdrawn",
        }
    }
}

/// One decided (or withdrawn) draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftRecord {
    /// The draft's id.
    pub draft_id: String,
    /// Bot answer or suggestion.
    pub source: DraftSource,
    /// The text as drafted.
    pub original: String,
    /// The text sent (`approved`, `edited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_text: Option<String>,
    /// What happened.
    pub outcome: DraftOutcome,
    /// The agent who decided (none for `withdrawn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentRef>,
    /// When drafted, unix ms.
    pub created_at_ms: i64,
    /// When decided, unix ms.
    pub at_ms: i64,
}

impl ConversationState {
    /// How many closed handoffs `past_handoffs` keeps (the newest), so the conversation
    /// document stays bounded however often it is handed off.
    pub const PAST_HANDOFFS_KEPT: usize = 10;

    /// How many decided drafts `draft_log` keeps (the newest).
    pub const DRAFT_LOG_KEPT: usize = 100;

    /// Appends a decided draft to `draft_log`, dropping the oldest beyond
    /// [`Self::DRAFT_LOG_KEPT`].
    pub fn log_draft(&mut self, record: DraftRecord) {
        self.draft_log.push(record);
        let excess = self.draft_log.len().saturating_sub(Self::DRAFT_LOG_KEPT);
        self.draft_log.drain(..excess);
    }

    /// Erases what drafts hold of the customer's words (GDPR erasure): pending drafts
    /// are dropped, logged texts replaced by [`ERASED_TEXT`].
    pub fn erase_drafts(&mut self) {
        self.drafts.clear();
        for r in &mut self.draft_log {
            r.original = ERASED_TEXT.to_owned();
            if r.final_text.is_some() {
                r.final_text = Some(ERASED_TEXT.to_owned());
            }
        }
    }

    /// Erases what the state holds of the customer (GDPR erasure): filled slots, offered
    /// choices, drafts' texts, survey comments. Returns the ids of the conversation's
    /// handoffs, current and past, whose records elsewhere the erasure also covers.
    pub fn erase_personal(&mut self) -> Vec<String> {
        self.slots.clear();
        self.erase_drafts();
        self.offered_choices.clear();
        let mut handoffs = Vec::new();
        for handoff in self.handoff.iter_mut().chain(self.past_handoffs.iter_mut()) {
            handoffs.push(handoff.id.clone());
            if let Some(csat) = &mut handoff.csat {
                csat.comment = None;
            }
        }
        handoffs
    }

    /// Appends a closed handoff to `past_handoffs`, dropping the oldest beyond
    /// [`Self::PAST_HANDOFFS_KEPT`].
    pub fn archive_handoff(&mut self, handoff: HandoffState) {
        self.past_handoffs.push(handoff);
        let excess = self
            .past_handoffs
            .len()
            .saturating_sub(Self::PAST_HANDOFFS_KEPT);
        self.past_handoffs.drain(..excess);
    }
}

/// Where a handoff is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffStatus {
    /// Decided; the desk has not confirmed yet.
    Requested,
    /// The desk has it; waiting for an agent.
    Queued,
    /// An agent took it.
    Accepted,
    /// An agent resolved it.
    Resolved,
    /// An agent gave it back to the bot.
    Released,
    /// Nobody accepted it in time.
    TimedOut,
}

impl HandoffStatus {
    /// Whether the handoff is over.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            HandoffStatus::Resolved | HandoffStatus::Released | HandoffStatus::TimedOut
        )
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffStatus::Requested => "requested",
            HandoffStatus::Queued => "queued",
            HandoffStatus::Accepted => "accepted",
            HandoffStatus::Resolved => "resolved",
            HandoffStatus::Released => "released",
            HandoffStatus::TimedOut => "timed_out",
        }
    }
}

/// A handoff of a conversation to a human desk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffState {
    /// Stable id (the desk's idempotency key).
    pub id: String,
    /// The desk instance it went to.
    pub desk: String,
    /// Current status.
    pub status: HandoffStatus,
    /// Category of the escalation.
    #[serde(default)]
    pub category: Option<String>,
    /// Priority of the escalation.
    #[serde(default)]
    pub priority: Option<String>,
    /// Target queue.
    #[serde(default)]
    pub target: Option<String>,
    /// The agent who owns it, once accepted.
    #[serde(default)]
    pub agent: Option<AgentRef>,
    /// Every transition, oldest first.
    #[serde(default)]
    pub transitions: Vec<HandoffTransition>,
    /// The customer's satisfaction answer, after resolution.
    #[serde(default)]
    pub csat: Option<Csat>,
    /// When the handoff outlived its priority's SLA without an agent accepting it, unix ms.
    #[serde(default)]
    pub sla_breached_at_ms: Option<i64>,
    /// The agent routing assigned it to (they may still accept or not); `agent` is who
    /// accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<AgentRef>,
    /// What routing did, oldest first: assignments and re-routes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routing: Vec<RoutingStep>,
}

/// One routing step of a handoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingStep {
    /// `assigned` (to `agent`, in `queue`) or `rerouted` (from `from` to `queue`, after
    /// an SLA breach).
    pub change: String,
    /// The queue the handoff is in after the step.
    pub queue: String,
    /// The queue it left (`rerouted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The agent (`assigned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentRef>,
    /// When, unix ms.
    pub at_ms: i64,
}

/// An agent as a desk names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRef {
    /// The desk's id.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// One transition of a handoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffTransition {
    /// The new status.
    pub status: HandoffStatus,
    /// Who caused it: `policy`, `desk:<id>`, `agent:<id>`, `customer`, `system`.
    pub actor: String,
    /// When, unix milliseconds.
    pub at_ms: i64,
}

/// A conversation as the escalation health figures read it
/// ([`Reporting::conversation_activity`](crate::store::Reporting::conversation_activity)).
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationActivity {
    /// The conversation (its handoffs, transitions and survey answers are in its state).
    pub conversation: ConversationRecord,
    /// When each agent transcript entry of the conversation was written, oldest first.
    pub agent_replies: Vec<Timestamp>,
}

/// A satisfaction answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Csat {
    /// 1 (bad) to 5 (great).
    pub score: Option<u8>,
    /// Free-text follow-up for low scores.
    pub comment: Option<String>,
    /// Why the survey was not sent (e.g. `window_closed`).
    pub skipped: Option<String>,
    /// When answered or skipped, unix milliseconds.
    pub at_ms: Option<i64>,
}

/// A survey waiting for the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsatPending {
    /// The handoff it is about (in `past_handoffs`).
    pub handoff_id: String,
    /// What we are waiting for.
    pub awaiting: CsatStage,
}

/// What a pending survey waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsatStage {
    /// The 1–5 score.
    Score,
    /// The free-text comment after a low score.
    Comment,
}

/// One atomic unit of work, see [`Conversations::commit_turn`](crate::store::Conversations::commit_turn).
#[derive(Debug, Clone)]
pub struct Turn {
    /// The inbound record this turn processes, if any.
    pub inbound_seq: Option<u64>,
    /// The conversation's new record; `version` is the version it was read at.
    pub conversation: ConversationRecord,
    /// Transcript entries to append, in order.
    pub entries: Vec<TranscriptEntry>,
    /// Escalation events to record.
    pub escalations: Vec<EscalationEvent>,
    /// Messages to deliver.
    pub outbox: Vec<NewOutboxEntry>,
    /// Timers to schedule (as [`WorkQueue::schedule_timer`](crate::store::WorkQueue::schedule_timer): an
    /// id already pending is replaced), in the same transaction, so a turn that committed
    /// always has its timers and a turn that did not has none.
    pub timers: Vec<NewTimer>,
    /// The AI decisions behind this turn (sentiment, intent, the bot's answer, the
    /// briefing), in the order they were made; inserted with the turn.
    pub ai_audit: Vec<AiAuditRecord>,
}

/// What an [`AiAuditRecord`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AiAuditKind {
    /// The bot's answer to a customer message.
    BotAnswer,
    /// The intent classifier's reading of a customer message.
    Intent,
    /// The sentiment score of a customer message.
    Sentiment,
    /// The briefing summary written for a handoff.
    BriefingSummary,
}

impl AiAuditKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AiAuditKind::BotAnswer => "bot_answer",
            AiAuditKind::Intent => "intent",
            AiAuditKind::Sentiment => "sentiment",
            AiAuditKind::BriefingSummary => "briefing_summary",
        }
    }
}

/// One AI decision, stored with the turn it shaped (see `tandem_core::audit`): who
/// decided (bot, classifier, analyzer or summarizer, and model), what it decided, what was
/// sent to a backend and answered (or only their SHA-256 when `[ai] store_prompts =
/// false`), how long the turn waited for it, and whether a stand-in decided. Erased with
/// the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiAuditRecord {
    /// The id (`ai_<uuid v7>`: time-ordered).
    pub id: String,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The customer.
    pub customer_id: CustomerId,
    /// The transcript `seq` of the message the decision is about (for a briefing: the
    /// entry that caused the handoff).
    pub message_seq: u64,
    /// When decided.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// What was decided.
    pub kind: AiAuditKind,
    /// Who decided: the bot kind (`knowledge`, `llm`, `rasa`, `http`), the provider
    /// (`builtin`, `openai`) or a third-party name; `None` when it did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The model, when the provider has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The intent: the bot's (bot answer) or the classifier's (intent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// The confidence of that intent, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// The sentiment compound score in [-1, 1] (sentiment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<f32>,
    /// `positive`, `neutral` or `negative` (sentiment); the trend the briefing states
    /// (briefing summary, also `worsening`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment_label: Option<String>,
    /// The bot did not know and answered its fallback reply (bot answer).
    #[serde(default)]
    pub fallback: bool,
    /// The provider's backend failed or answered something unusable, and a stand-in (the
    /// built-in bot, VADER, the deterministic summary) decided.
    #[serde(default)]
    pub fell_back: bool,
    /// Why the backend was not used (`timeout`, `status 503`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What was sent to the backend (kept when `[ai] store_prompts` is true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// What the backend answered (kept when `[ai] store_prompts` is true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// Lowercase hex SHA-256 of the request, when only hashes are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_sha256: Option<String>,
    /// Lowercase hex SHA-256 of the response, when only hashes are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_sha256: Option<String>,
    /// How long the turn waited for the decision, in milliseconds.
    pub latency_ms: u64,
}

/// One fired trigger of an escalation decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Trigger code (`keyword`, `sentiment_streak`, ...).
    pub code: String,
    /// Category, when the trigger maps to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// What fired it (the matched keyword, the streak length).
    pub evidence: String,
}

impl Reason {
    /// The reason label used in metrics and events: `keyword:refund`, `sentiment_streak`.
    pub fn label(&self) -> String {
        if self.code == "keyword" {
            format!("keyword:{}", self.evidence)
        } else {
            self.code.clone()
        }
    }
}

/// A recorded escalation decision.
#[derive(Debug, Clone, PartialEq)]
pub struct EscalationEvent {
    /// The id.
    pub id: EscalationId,
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The customer.
    pub customer_id: CustomerId,
    /// When decided.
    pub at: Timestamp,
    /// The transcript `seq` of the message that triggered it.
    pub message_seq: u64,
    /// Whether the decision was to escalate.
    pub escalate: bool,
    /// Every trigger that fired.
    pub reasons: Vec<Reason>,
    /// The chosen category.
    pub category: Option<String>,
    /// The chosen priority.
    pub priority: Option<String>,
    /// The chosen target queue.
    pub target: Option<String>,
    /// The policy version that decided.
    pub policy_version: String,
}

impl EscalationEvent {
    /// The labels this event adds to the escalation counts (`/metrics`,
    /// [`Reporting::escalation_counts`](crate::store::Reporting::escalation_counts)): one per distinct reason
    /// label, plus `category:<name>` for its category. Empty for a decision not to
    /// escalate: those are recorded (the audit of every decision) but not counted.
    pub fn count_labels(&self) -> Vec<String> {
        if !self.escalate {
            return Vec::new();
        }
        let mut labels: Vec<String> = self.reasons.iter().map(Reason::label).collect();
        if let Some(c) = &self.category {
            labels.push(format!("{CATEGORY_LABEL_PREFIX}{c}"));
        }
        labels.sort();
        labels.dedup();
        labels
    }
}

/// The prefix of category labels among escalation count labels.
pub const CATEGORY_LABEL_PREFIX: &str = "category:";

/// A message to put in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxEntry {
    /// The message (its `outbox_id` is the entry's id).
    pub message: OutboundMessage,
    /// When to first try.
    pub next_attempt_at: Timestamp,
}

/// Where an outbox entry is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for its next attempt.
    Pending,
    /// Claimed by a sender.
    InFlight,
    /// Delivered.
    Sent,
    /// Given up.
    Failed,
}

impl OutboxStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::InFlight => "in_flight",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => OutboxStatus::Pending,
            "in_flight" => OutboxStatus::InFlight,
            "sent" => OutboxStatus::Sent,
            "failed" => OutboxStatus::Failed,
            _ => return None,
        })
    }
}

/// A durable timer to schedule: `kind` and `payload` (JSON) say what to do when it is
/// due; the core gives them their meaning (`timers::Timer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTimer {
    /// Unique key: scheduling the same id again replaces the timer (one check-in per
    /// conversation, say).
    pub id: String,
    /// What kind of timer (a tag the core decodes).
    pub kind: String,
    /// Its arguments, as JSON.
    pub payload: String,
    /// When it fires.
    pub due_at: Timestamp,
}

/// A claimed timer: fire it, then [`WorkQueue::finish_timer`](crate::store::WorkQueue::finish_timer) it
/// with `claim`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerEntry {
    /// Its key.
    pub id: String,
    /// What kind of timer.
    pub kind: String,
    /// Its arguments, as JSON.
    pub payload: String,
    /// When it was due.
    pub due_at: Timestamp,
    /// How many times it has been claimed (this claim included).
    pub attempts: u32,
    /// This claim's token.
    pub claim: String,
}

/// An outbox entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// The id.
    pub id: OutboxId,
    /// The message.
    pub message: OutboundMessage,
    /// Status.
    pub status: OutboxStatus,
    /// Attempts started so far (a claim counts as one).
    pub attempts: u32,
    /// When the next attempt may start (pending).
    pub next_attempt_at: Timestamp,
    /// The current claim token (in flight).
    pub claim: Option<String>,
    /// When the current claim expires.
    pub claim_expires_at: Option<Timestamp>,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// The platform id after a successful send.
    pub platform_message_id: Option<String>,
    /// How far a sent entry got (from the send, then from delivery reports).
    pub delivery_state: Option<tandem_model::DeliveryState>,
    /// When created.
    pub created_at: Timestamp,
}

/// The `last_error` recorded when a platform reports that a message it had accepted
/// failed: `undeliverable: window_closed (131047: Re-engagement message)`. Every store
/// writes this same text (see [`WorkQueue::record_delivery_status`](crate::store::WorkQueue::record_delivery_status)).
pub fn delivery_failure_text(
    kind: tandem_model::FailureKind,
    code: Option<&str>,
    reason: &str,
) -> String {
    match code {
        Some(code) => format!("undeliverable: {} ({code}: {reason})", kind.as_str()),
        None => format!("undeliverable: {} ({reason})", kind.as_str()),
    }
}

/// Changes to a customer's profile (admin API, CRM sync).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomerUpdate {
    /// A new display name.
    pub display_name: Option<String>,
    /// `Some(Some(s))` sets the segment, `Some(None)` clears it, `None` keeps it.
    pub segment: Option<Option<String>>,
    /// Attributes merged into the existing ones; a JSON `null` removes the key.
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// A business event about a customer (`payment_failed`, `order_shipped`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerEvent {
    /// Unique id (the poster's idempotency key when given).
    pub id: String,
    /// The customer.
    pub customer_id: CustomerId,
    /// Event name.
    pub name: String,
    /// When it happened.
    pub at: Timestamp,
    /// Free-form details.
    pub data: serde_json::Value,
}

// ---- identity graph -------------------------------------------------------------------

/// The kind of a verified fact that can serve as a deterministic merge key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// A verified email, lowercased and trimmed.
    Email,
    /// A verified phone number, `+` and digits only.
    Phone,
}

/// A verified fact of an identity (`email:e@x.org`, `phone:+15550100`): two customers
/// holding the same key are the same person.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VerifiedKey {
    /// Email or phone.
    pub kind: KeyKind,
    /// The normalized value.
    pub value: String,
}

impl VerifiedKey {
    /// An email key: trimmed and lowercased; `None` unless it looks like `a@b`.
    pub fn email(raw: &str) -> Option<Self> {
        let value = raw.trim().to_lowercase();
        let (local, domain) = value.split_once('@')?;
        (!local.is_empty() && !domain.is_empty() && !value.chars().any(char::is_whitespace))
            .then_some(Self {
                kind: KeyKind::Email,
                value,
            })
    }

    /// A phone key: `+` followed by the digits (E.164-like; separators dropped, a leading
    /// `00` read as `+`); `None` with fewer than 6 or more than 15 digits.
    pub fn phone(raw: &str) -> Option<Self> {
        let trimmed = raw.trim();
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        let digits = match digits.strip_prefix("00") {
            Some(rest) if !trimmed.starts_with('+') => rest.to_owned(),
            _ => digits,
        };
        (6..=15).contains(&digits.len()).then(|| Self {
            kind: KeyKind::Phone,
            value: format!("+{digits}"),
        })
    }

    /// The verified keys an identity carries (its verified email and phone).
    pub fn of(identity: &tandem_model::ExternalIdentity) -> Vec<Self> {
        let mut keys = Vec::new();
        if let Some(k) = identity.verified_email.as_deref().and_then(Self::email) {
            keys.push(k);
        }
        if let Some(k) = identity.verified_phone.as_deref().and_then(Self::phone) {
            keys.push(k);
        }
        keys
    }

    /// `email:<value>` or `phone:<value>`.
    pub fn label(&self) -> String {
        match self.kind {
            KeyKind::Email => format!("email:{}", self.value),
            KeyKind::Phone => format!("phone:{}", self.value),
        }
    }
}

/// An identity named by its parts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdentityRef {
    /// The channel instance.
    pub channel: ChannelId,
    /// The subject on that channel.
    pub subject: String,
}

/// What made two customers one: who or what, and the key it rested on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeTrigger {
    /// `verified_key` (automatic, from a verified fact) or `admin` (the admin API).
    pub actor: String,
    /// The key both customers held (automatic merges).
    #[serde(default)]
    pub key: Option<VerifiedKey>,
    /// The identity that brought the key (`<channel>/<subject>`), or the admin route.
    pub source: String,
}

/// A merge of customer `merged` into `survivor`, with everything needed to undo it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRecord {
    /// The id (`mrg_...`).
    pub id: String,
    /// The customer that remains.
    pub survivor: CustomerId,
    /// The customer whose identities and conversations moved to `survivor`.
    pub merged: CustomerId,
    /// Why.
    pub trigger: MergeTrigger,
    /// The identities that moved, oldest first.
    pub identities: Vec<IdentityRef>,
    /// The conversations that moved.
    pub conversations: Vec<ConversationId>,
    /// The merged customer's open conversation, closed by the merge because the survivor
    /// had one open too (a customer has at most one open conversation).
    #[serde(default)]
    pub closed_conversation: Option<ConversationId>,
    /// The business events that moved (ids).
    #[serde(default)]
    pub events: Vec<String>,
    /// When merged.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// When undone, if it was.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub unmerged_at: Option<Timestamp>,
}

/// What an identity audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// Two customers became one (`detail` is the [`MergeRecord`]).
    Merge,
    /// A merge was undone (`detail` is the merge record as it was undone).
    Unmerge,
    /// An identity was linked to the customer (`detail`: channel, subject, source).
    Link,
    /// An identity was unlinked into a new customer (`detail`: channel, subject, new customer).
    Unlink,
    /// The customer's personal data was erased (`detail` holds counts only).
    Erase,
}

impl AuditKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Merge => "merge",
            AuditKind::Unmerge => "unmerge",
            AuditKind::Link => "link",
            AuditKind::Unlink => "unlink",
            AuditKind::Erase => "erase",
        }
    }
}

/// One entry of a customer's identity audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The id (a merge's entry has the merge's id).
    pub id: String,
    /// What happened.
    pub kind: AuditKind,
    /// The customer it happened to (a merge's survivor).
    pub customer_id: CustomerId,
    /// The other customer involved (a merge's merged customer, an unlink's new one).
    #[serde(default)]
    pub other_customer_id: Option<CustomerId>,
    /// Who did it: `verified_key`, `admin`, `link_code`, ...
    pub actor: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// The details (see [`AuditKind`]).
    pub detail: serde_json::Value,
}

/// Two customers that share an unverified claim (or a key whose merge was undone): a
/// person should decide whether to merge them. Never merged automatically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestedLink {
    /// The customer the claim was seen on.
    pub customer_id: CustomerId,
    /// The customer already holding the key.
    pub other_customer_id: CustomerId,
    /// The claimed key.
    pub key: VerifiedKey,
    /// Why it is only a suggestion: `unverified_claim` or `unmerged_before`.
    pub reason: String,
    /// When first suggested.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
}

/// Counts of what [`Identities::erase_customer`](crate::store::Identities::erase_customer) erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErasureReport {
    /// Identities removed.
    pub identities: u64,
    /// Conversations whose transcript and personal state were erased.
    pub conversations: u64,
    /// Transcript entries whose content was erased.
    pub transcript_entries: u64,
    /// Business events whose data was erased.
    pub events: u64,
    /// AI audit records deleted (they hold prompts and answers).
    #[serde(default)]
    pub ai_audit_records: u64,
}

/// A short-lived single-use code that links the channel identity redeeming it to a
/// customer (identity linking across channels, issue 7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkCode {
    /// The code the customer types or opens (e.g. `K7P3QX`).
    pub code: String,
    /// The customer the redeeming identity joins.
    pub customer_id: CustomerId,
    /// When issued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    /// After this instant the code links nothing.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: Timestamp,
}

/// What [`Identities::create_link_code`](crate::store::Identities::create_link_code) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkCodeIssue {
    /// Stored; the code is active until it expires or is used.
    Issued,
    /// The customer is unknown.
    UnknownCustomer,
    /// The customer already has the maximum number of active codes.
    TooMany,
}

/// What [`Identities::redeem_link_code`](crate::store::Identities::redeem_link_code) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCodeRedemption {
    /// The code was active and is now used: link to this customer.
    Redeemed(CustomerId),
    /// The code was used before by someone else; it links nothing again. Carries the
    /// code's customer.
    AlreadyUsed(CustomerId),
    /// The code expired unused.
    Expired,
    /// No such code (never issued, or removed after it expired).
    Unknown,
}

/// The text every erased transcript entry and outbox message carries instead.
pub const ERASED_TEXT: &str = "[erased]";

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn keys_normalize() {
        assert_eq!(
            VerifiedKey::email("  E@X.org ").map(|k| k.value),
            Some("e@x.org".into())
        );
        assert_eq!(VerifiedKey::email("not an email"), None);
        assert_eq!(
            VerifiedKey::phone("+1 (555) 010-0999").map(|k| k.value),
            Some("+15550100999".into())
        );
        assert_eq!(
            VerifiedKey::phone("0044 20 7946 0000").map(|k| k.value),
            Some("+442079460000".into())
        );
        assert_eq!(VerifiedKey::phone("123"), None);
        assert_eq!(
            VerifiedKey::phone("15550100").map(|k| k.label()),
            Some("phone:+15550100".into())
        );
    }
}

// ---- routing: agents and the waiting queue ---------------------------------------------

/// Whether an agent takes new handoffs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Takes new handoffs, up to their capacity.
    #[default]
    Available,
    /// Takes none (break, meeting, end of shift); keeps the ones they have.
    Away,
}

impl AgentStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Available => "available",
            AgentStatus::Away => "away",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "available" => Some(AgentStatus::Available),
            "away" => Some(AgentStatus::Away),
            _ => None,
        }
    }
}

/// What an operator sets about an agent. The id is the agent's id at the desk (Slack
/// user id, Chatwoot agent id, the generic desk's `agent.id`), so that a desk's "accepted
/// by X" names the same agent routing assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentProfile {
    /// The agent's id (as the desk names them).
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Queues (targets) the agent can take, e.g. `billing`, `compliance`.
    pub skills: Vec<String>,
    /// Most handoffs the agent holds at once.
    pub capacity: u32,
    /// Whether they take new handoffs.
    pub status: AgentStatus,
}

/// An agent as stored: the profile and the handoffs they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRecord {
    /// What the operator set.
    pub profile: AgentProfile,
    /// Ids of the handoffs assigned to (or accepted by) the agent and not closed, oldest
    /// first.
    pub active: Vec<String>,
    /// Last change.
    pub updated_at: Timestamp,
}

impl AgentRecord {
    /// Whether routing may give the agent another handoff of `skill`.
    pub fn can_take(&self, skill: &str) -> bool {
        self.profile.status == AgentStatus::Available
            && self.profile.skills.iter().any(|s| s == skill)
            && self.active.len() < self.profile.capacity as usize
    }
}

/// A handoff waiting in a queue for an agent with the skill and spare capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedHandoff {
    /// The handoff.
    pub handoff_id: String,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// The queue (target) it waits in; agents need this skill.
    pub queue: String,
    /// Its priority (`immediate` > `high` > `medium` > `low`).
    pub priority: String,
    /// When it started waiting (order within a priority).
    pub queued_at: Timestamp,
}

/// A small message from one process to every process sharing the store
/// ([`KeyValue::publish_notification`](crate::store::KeyValue::publish_notification)): a live update
/// that one replica produced and another may have to push to the sockets it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// What it is about: `channel:<id>` or `desk:<id>`.
    pub topic: String,
    /// The publishing process (its followers skip their own notifications).
    pub origin: String,
    /// What the topic's owner needs to act on it (at most 64 KiB).
    pub payload: String,
}

/// The rank of a priority in queue order: `immediate` 0, `high` 1, `medium` 2, `low` 3,
/// anything else after them.
pub fn priority_rank(priority: &str) -> u8 {
    match priority {
        "immediate" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(n: usize) -> HandoffState {
        HandoffState {
            id: format!("ho_{n}"),
            desk: "console".into(),
            status: HandoffStatus::TimedOut,
            category: None,
            priority: None,
            target: None,
            agent: None,
            transitions: Vec::new(),
            csat: None,
            sla_breached_at_ms: None,
            assignee: None,
            routing: Vec::new(),
        }
    }

    #[test]
    fn past_handoffs_keep_the_newest_ten() {
        let mut state = ConversationState::default();
        for n in 0..25 {
            state.archive_handoff(closed(n));
        }
        let ids: Vec<&str> = state.past_handoffs.iter().map(|h| h.id.as_str()).collect();
        let expected: Vec<String> = (15..25).map(|n| format!("ho_{n}")).collect();
        assert_eq!(ids, expected, "the newest ten, oldest first");
    }
}

/// An earlier conversation of the same customer (any channel), for `repeat_contact`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PastContact {
    /// What it was about: the first intent the bot recognised in it.
    pub intent: String,
    /// When it was opened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
}
