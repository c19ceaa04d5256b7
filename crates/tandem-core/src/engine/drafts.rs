//! Draft rules: how a draft is added to a conversation, when it is stale and withdrawn,
//! and how desks see it. What an agent's decision does is in `crate::drafts`.

use crate::config::Selection;
use crate::engine::Reach;
use crate::engine::handoff::reply_entry;
use crate::records::{
    ConversationRecord, ConversationState, Draft, DraftOutcome, DraftRecord, DraftSource, Owner,
    Turn,
};
use crate::shape::{outbox_entries, remember_buttons};
use tandem_model::{Button, MessageId, OutboundContent, Party, Timestamp};
use tandem_sdk::DraftView;

/// Most drafts one conversation keeps pending; beyond it the oldest are withdrawn.
pub const PENDING_KEPT: usize = 20;

/// What a new draft says and why.
#[derive(Debug, Clone, Default)]
pub(crate) struct DraftParts {
    pub(crate) text: String,
    pub(crate) buttons: Vec<Button>,
    pub(crate) question: Option<String>,
    pub(crate) intent: Option<String>,
    pub(crate) confidence: Option<f32>,
    pub(crate) selection: Selection,
    pub(crate) handoff_id: Option<String>,
}

/// Adds a pending draft to the state being planned (withdrawing the oldest beyond
/// [`PENDING_KEPT`]).
pub(crate) fn add(
    state: &mut ConversationState,
    source: DraftSource,
    parts: DraftParts,
    now: Timestamp,
) {
    let at_ms = crate::engine::handoff::ms(now);
    state.drafts.push(Draft {
        id: format!(
            "dr_{}",
            MessageId::generate().as_str().trim_start_matches("msg_")
        ),
        source,
        text: parts.text,
        buttons: parts.buttons,
        question: parts.question,
        intent: parts.intent,
        confidence: parts.confidence,
        category: parts.selection.category,
        queue: parts.selection.queue,
        handoff_id: parts.handoff_id,
        created_at_ms: at_ms,
    });
    while state.drafts.len() > PENDING_KEPT {
        let old = state.drafts.remove(0);
        state.log_draft(withdrawn(&old, at_ms));
    }
}

/// Whether a pending draft can no longer be sent: a bot draft once the bot does not own
/// the conversation, a suggestion once its handoff is not open.
pub fn is_stale(state: &ConversationState, draft: &Draft) -> bool {
    match draft.source {
        DraftSource::Bot => state.owner != Owner::Bot,
        DraftSource::Suggestion => !state
            .handoff
            .as_ref()
            .is_some_and(|h| Some(&h.id) == draft.handoff_id.as_ref() && !h.status.is_closed()),
    }
}

/// Withdraws every stale pending draft of `state` (recorded in its log); returns how many.
pub fn withdraw_stale(state: &mut ConversationState, now: Timestamp) -> usize {
    let at_ms = crate::engine::handoff::ms(now);
    let (stale, keep): (Vec<Draft>, Vec<Draft>) = std::mem::take(&mut state.drafts)
        .into_iter()
        .partition(|d| is_stale(state, d));
    state.drafts = keep;
    for d in &stale {
        state.log_draft(withdrawn(d, at_ms));
    }
    stale.len()
}

pub(crate) fn withdrawn(d: &Draft, at_ms: i64) -> DraftRecord {
    DraftRecord {
        draft_id: d.id.clone(),
        source: d.source,
        original: d.text.clone(),
        final_text: None,
        outcome: DraftOutcome::Withdrawn,
        agent: None,
        created_at_ms: d.created_at_ms,
        at_ms,
    }
}

/// A draft as desks see it.
pub fn view(conversation: &ConversationRecord, d: &Draft) -> DraftView {
    DraftView {
        conversation_id: conversation.id.as_str().to_owned(),
        draft_id: d.id.clone(),
        source: d.source.as_str().to_owned(),
        text: d.text.clone(),
        buttons: d.buttons.clone(),
        question: d.question.clone(),
        intent: d.intent.clone(),
        confidence: d.confidence,
        category: d.category.clone(),
        queue: d.queue.clone(),
        handoff_id: d.handoff_id.clone(),
        channel: conversation.channel.as_str().to_owned(),
        created_at: crate::engine::handoff::rfc3339(from_ms(d.created_at_ms)),
    }
}

fn from_ms(ms: i64) -> Timestamp {
    Timestamp::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Appends a reply to `turn`: its transcript entry at the next seq, the buttons it offers
/// remembered (taps are matched against them), and its outbox entries to the customer
/// where `reach` says.
pub(crate) fn push_reply(
    turn: &mut Turn,
    reach: &Reach,
    from: Party,
    content: OutboundContent,
    now: Timestamp,
) {
    let next = &mut turn.conversation;
    remember_buttons(&mut next.state, &[(from, content.clone())]);
    let entry = reply_entry(next, from, &content, now);
    next.next_seq += 1;
    if let Some(recipient) = &reach.recipient {
        let caps = reach.caps.as_ref();
        turn.outbox
            .extend(outbox_entries(&entry, recipient, &content, caps, now));
    }
    turn.entries.push(entry);
}
