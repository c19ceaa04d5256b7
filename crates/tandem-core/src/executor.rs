//! The one "load, decide, commit, retry on conflict" loop, and what follows every commit.
//!
//! Every change to a conversation (a customer message, a desk event, a draft decision, an
//! SLA breach, a check-in, a business event, an assignment, a re-queued template) is made
//! by [`Core::apply`]: it loads the conversation, asks the change what to commit, commits
//! the [`Turn`] atomically and, when another writer changed the conversation first
//! (`StoreError::Conflict`), loads and asks again. What must happen after any commit
//! (waking the outbox and the timers, counting escalations, routing a handoff the turn
//! opened, telling desks about drafts) is done here once, derived from what the turn
//! changed; a change keeps only its own follow-ups, carried out of `apply` in its answer.

use crate::router::Core;
use crate::store::{ConversationRecord, StoreError, Turn};

/// How many times a change is tried before `apply` gives up with `Conflict` (the caller's
/// own retry, such as the inbound log's, takes over from there).
const ATTEMPTS: usize = 5;

/// What one attempt of a change decided.
// Short-lived (one per attempt, moved straight into the store): boxing the turn would cost
// an allocation and buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Step<T> {
    /// Commit this turn; once it is committed, [`Core::apply`] answers the value.
    Commit(Turn, T),
    /// Nothing to commit: [`Core::apply`] answers the value now.
    Done(T),
}

impl Turn {
    /// A turn that only changes the conversation's record.
    pub fn of(conversation: ConversationRecord) -> Turn {
        Turn {
            inbound_seq: None,
            conversation,
            entries: Vec::new(),
            escalations: Vec::new(),
            outbox: Vec::new(),
            timers: Vec::new(),
            ai_audit: Vec::new(),
        }
    }
}

/// What the follow-ups need of the conversation as it was loaded.
struct Before {
    id: tandem_model::ConversationId,
    handoff_id: Option<String>,
    drafts: Vec<crate::store::Draft>,
}

impl Before {
    fn of(loaded: &ConversationRecord) -> Before {
        Before {
            id: loaded.id.clone(),
            handoff_id: loaded.state.handoff.as_ref().map(|h| h.id.clone()),
            drafts: loaded.state.drafts.clone(),
        }
    }
}

/// What a committed turn changed that the follow-ups need (taken before the turn moves
/// into the store).
struct Committed {
    escalations: Vec<crate::store::EscalationEvent>,
    opened: Option<crate::store::HandoffState>,
    has_outbox: bool,
    has_timers: bool,
    /// The conversation after the turn, when its drafts changed.
    drafts_after: Option<ConversationRecord>,
}

impl Committed {
    fn of(before: &Before, turn: &Turn) -> Committed {
        let next = &turn.conversation;
        Committed {
            escalations: turn.escalations.clone(),
            opened: crate::router::opened_handoff(before.handoff_id.as_deref(), next),
            has_outbox: !turn.outbox.is_empty(),
            has_timers: !turn.timers.is_empty(),
            drafts_after: (next.state.drafts != before.drafts).then(|| next.clone()),
        }
    }
}

impl Core {
    /// Applies one change to a conversation: `load` reads it (`None`: it does not exist,
    /// and `apply` answers `Ok(None)`), `decide` says what to commit, and a conflict with
    /// another writer starts over from `load`. Errors other than `Conflict` (including
    /// `AlreadyProcessed`) end the change and are returned as they are.
    ///
    /// The closures return futures that own what they use (`async move` over references
    /// and clones), which keeps the futures `Send` for the workers that run them.
    pub(crate) async fn apply<T, L, D>(
        &self,
        what: &str,
        mut load: impl FnMut() -> L,
        mut decide: impl FnMut(ConversationRecord) -> D,
    ) -> Result<Option<T>, StoreError>
    where
        L: Future<Output = Result<Option<ConversationRecord>, StoreError>>,
        D: Future<Output = Result<Step<T>, StoreError>>,
    {
        for _ in 0..ATTEMPTS {
            let Some(loaded) = load().await? else {
                return Ok(None);
            };
            let before = Before::of(&loaded);
            let (turn, answer) = match decide(loaded).await? {
                Step::Done(answer) => return Ok(Some(answer)),
                Step::Commit(turn, answer) => (turn, answer),
            };
            let committed = Committed::of(&before, &turn);
            match self.inner.store.commit_turn(turn).await {
                Ok(()) => {
                    self.after_commit(&before, committed).await;
                    return Ok(Some(answer));
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict(format!(
            "the conversation kept changing ({what})"
        )))
    }

    /// What follows every committed turn.
    async fn after_commit(&self, before: &Before, committed: Committed) {
        for decision in &committed.escalations {
            self.inner.metrics.decision(decision);
        }
        if committed.has_outbox {
            self.inner.outbox_wakeup.notify_one();
        }
        if committed.has_timers {
            self.inner.timer_wakeup.notify_one();
        }
        if let Some(h) = &committed.opened {
            // Boxed: routing the handoff assigns it, which is a change of its own.
            Box::pin(self.handoff_opened(&before.id, h)).await;
        }
        if let Some(after) = &committed.drafts_after {
            self.drafts_committed(&before.drafts, after).await;
        }
    }
}
