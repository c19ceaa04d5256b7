//! Draft-only mode: replies that wait for an agent's approval.
//!
//! When `[drafts]` applies to a conversation (globally, or through the policy category or
//! queue of the turn), the bot's answer is not put in the outbox: it becomes a [`Draft`]
//! in the conversation's state, committed with the turn, and the desks are told
//! ([`AgentDesk::draft_changed`](tandem_sdk::AgentDesk::draft_changed)). With `suggest`,
//! a customer message in a handed-off conversation also gets the bot's (non-fallback)
//! answer as a `suggestion` draft for the agent; it is never sent on its own.
//!
//! An agent decides each draft once ([`Core::decide_draft`]): approve (the text goes to
//! the outbox like a bot reply, or as the agent's reply for a suggestion), edit (the
//! edited text is sent) or reject (nothing is sent). Each decision is recorded in
//! `ConversationState::draft_log` with the original text, the text sent and the agent.
//! The draft leaves `drafts` in the same commit that queues its text, so the optimistic
//! version check of the store makes a second decision see it decided.
//!
//! Stale drafts are **withdrawn**, never sent: a bot draft once the conversation is no
//! longer the bot's (handed off), a suggestion once its handoff is no longer open. The
//! turn that moves the conversation on withdraws them; a decision about one that is
//! still listed withdraws it then and answers `withdrawn`.
//!
//! Desks list what waits through [`DeskEventHandler::pending_drafts`]
//! (tandem_sdk::DeskEventHandler::pending_drafts): the conversations with pending drafts
//! are kept in the store's key-value space (namespace `drafts`, key `pending`, a JSON list
//! of conversation ids) as a hint that every listing re-checks against the conversations
//! themselves.

use crate::executor::Step;
use crate::router::Core;
use crate::store::{
    AgentRef, ConversationRecord, Draft, DraftOutcome, DraftRecord, DraftSource, HandoffStatus,
    Owner, StoreError, Turn,
};
use tandem_model::{ConversationId, OutboundContent, Party, Timestamp};
use tandem_sdk::handoff::Agent;
use tandem_sdk::{DeskRefusal, DraftAnswer, DraftDecision, DraftUpdate, DraftView};
use tracing::{debug, warn};

/// Key-value namespace of the pending-drafts index.
const INDEX_NAMESPACE: &str = "drafts";
/// Key of the pending-drafts index.
const INDEX_KEY: &str = "pending";
/// Most conversations the index lists (the oldest are dropped beyond it).
const INDEX_LIMIT: usize = 5000;
pub use crate::engine::drafts::PENDING_KEPT;

/// Serializes this process's updates of the pending-drafts index (replicas sharing the
/// store are kept apart by the compare-and-set in `update_draft_index`).
static INDEX_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub use crate::config::{DraftMode, DraftsConfig, Selection};

pub(crate) use crate::engine::drafts::{DraftParts, add, withdrawn};
pub use crate::engine::drafts::{is_stale, view, withdraw_stale};

fn refused(code: &str, message: impl Into<String>) -> DraftAnswer {
    DraftAnswer::Refused(DeskRefusal {
        code: code.into(),
        message: message.into(),
        owner: None,
    })
}

impl Core {
    /// The draft-only settings.
    pub fn drafts_config(&self) -> &DraftsConfig {
        &self.inner.config.drafts
    }

    /// Applies an agent's decision about draft `draft_id` of `conversation`, exactly
    /// once (see the module docs). `Refused` answers change nothing, except `withdrawn`,
    /// which records the withdrawal of a stale draft.
    pub async fn decide_draft(
        &self,
        conversation: &ConversationId,
        draft_id: &str,
        agent: AgentRef,
        decision: DraftDecision,
    ) -> Result<DraftAnswer, StoreError> {
        if let DraftDecision::Edit(text) = &decision
            && text.trim().is_empty()
        {
            return Ok(refused("empty_text", "an edited draft needs text"));
        }
        let store = &self.inner.store;
        let (agent, decision) = (&agent, &decision);
        let decide = |conv: ConversationRecord| async move {
            let now = self.inner.clock.now();
            let Some(index) = conv.state.drafts.iter().position(|d| d.id == draft_id) else {
                return Ok(Step::Done((
                    match conv.state.draft_log.iter().find(|r| r.draft_id == draft_id) {
                        Some(r) => refused(
                            "already_decided",
                            match &r.agent {
                                Some(a) => format!(
                                    "this draft was already {} by {}",
                                    r.outcome.as_str(),
                                    a.id
                                ),
                                None => format!("this draft was already {}", r.outcome.as_str()),
                            },
                        ),
                        None => refused("unknown_draft", "no such draft in this conversation"),
                    },
                    None,
                )));
            };
            let mut next = conv.clone();
            next.updated_at = now;
            let draft = next.state.drafts.remove(index);
            let at_ms = crate::handoff::ms(now);
            if is_stale(&conv.state, &draft) {
                next.state.log_draft(withdrawn(&draft, at_ms));
                let answer = refused(
                    "withdrawn",
                    "the conversation moved on (handed off or closed); nothing was sent",
                );
                return Ok(Step::Commit(Turn::of(next), (answer, None)));
            }
            // A suggestion is the handoff's: its owner (or a supervisor) decides.
            let mut taken: Option<String> = None;
            if draft.source == DraftSource::Suggestion
                && let Some(h) = next.state.handoff.as_mut()
            {
                if let Err(refusal) = crate::engine::ownership::authorize(
                    h,
                    Some(&agent.id),
                    &self.inner.config.supervisors,
                ) {
                    return Ok(Step::Done((DraftAnswer::Refused(refusal), None)));
                }
                // Sending the agent's reply takes the handoff, like a typed reply.
                if !matches!(decision, DraftDecision::Reject) && h.status != HandoffStatus::Accepted
                {
                    h.agent = Some(agent.clone());
                    let actor = crate::handoff::agent_actor(Some(agent), &h.desk);
                    crate::handoff::transition(h, HandoffStatus::Accepted, &actor, now);
                    next.state.owner = Owner::Agent;
                    taken = Some(h.id.clone());
                }
            }
            let (outcome, final_text) = match &decision {
                DraftDecision::Approve => (DraftOutcome::Approved, Some(draft.text.clone())),
                DraftDecision::Edit(text) => (DraftOutcome::Edited, Some(text.trim().to_owned())),
                DraftDecision::Reject => (DraftOutcome::Rejected, None),
            };
            next.state.log_draft(DraftRecord {
                draft_id: draft.id.clone(),
                source: draft.source,
                original: draft.text.clone(),
                final_text: final_text.clone(),
                outcome,
                agent: Some(agent.clone()),
                created_at_ms: draft.created_at_ms,
                at_ms,
            });
            let mut turn = Turn::of(next);
            if let Some(text) = final_text {
                // An edit keeps the draft's buttons only when the text is unchanged.
                let mut content = if outcome == DraftOutcome::Approved {
                    OutboundContent::with_buttons(text, draft.buttons.clone())
                } else {
                    OutboundContent::text(text)
                };
                let from = match draft.source {
                    DraftSource::Bot => Party::Bot,
                    DraftSource::Suggestion => {
                        content.sender_name = agent.name.clone();
                        Party::Agent
                    }
                };
                self.add_reply(&mut turn, from, content, now).await?;
                if from == Party::Bot {
                    let id = turn.conversation.id.clone();
                    turn.timers
                        .extend(self.inactivity_timer(&id, turn.conversation.next_seq));
                }
            }
            Ok(Step::Commit(turn, (DraftAnswer::Decided, taken)))
        };
        let applied = self
            .apply(
                "deciding a draft",
                || store.conversation(conversation),
                decide,
            )
            .await?;
        let Some((answer, taken)) = applied else {
            return Ok(refused("unknown_draft", "no such conversation"));
        };
        if let Some(h) = taken {
            self.handoff_taken(&h, Some(&agent.id)).await;
        }
        if matches!(answer, DraftAnswer::Decided) {
            debug!("Draft decided.");
        }
        Ok(answer)
    }

    /// Appends a reply to `turn`: its transcript entry, and its outbox entries to the
    /// customer on the channel they last wrote on.
    async fn add_reply(
        &self,
        turn: &mut Turn,
        from: Party,
        content: OutboundContent,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let reach = self.reach(&turn.conversation).await?;
        crate::engine::drafts::push_reply(turn, &reach, from, content, now);
        Ok(())
    }

    /// Every pending draft (not stale), oldest first, with its conversation.
    pub async fn pending_drafts(&self) -> Result<Vec<DraftView>, StoreError> {
        let ids = self.draft_index().await?;
        let mut out = Vec::new();
        let mut empty = Vec::new();
        for id in &ids {
            match self
                .inner
                .store
                .conversation(&ConversationId::new(id))
                .await?
            {
                Some(conv) if !conv.state.drafts.is_empty() => out.extend(
                    conv.state
                        .drafts
                        .iter()
                        .filter(|d| !is_stale(&conv.state, d))
                        .map(|d| view(&conv, d)),
                ),
                _ => empty.push(id.clone()),
            }
        }
        if !empty.is_empty() {
            // Best effort: a stale entry is skipped on the next listing anyway.
            let _ = self.update_draft_index(&[], &empty).await;
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(out)
    }

    async fn draft_index(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .inner
            .store
            .kv_get(INDEX_NAMESPACE, INDEX_KEY)
            .await?
            .and_then(|v| serde_json::from_str::<Vec<String>>(&v).ok())
            .unwrap_or_default())
    }

    /// Adds and removes conversations in the index with a compare-and-set, redone on a
    /// newer index when another replica wrote it meanwhile.
    async fn update_draft_index(
        &self,
        add: &[String],
        remove: &[String],
    ) -> Result<(), StoreError> {
        let _guard = INDEX_LOCK.lock().await;
        let store = &self.inner.store;
        for _ in 0..32 {
            let read_as = store.kv_get(INDEX_NAMESPACE, INDEX_KEY).await?;
            let before: Vec<String> = read_as
                .as_deref()
                .and_then(|v| serde_json::from_str(v).ok())
                .unwrap_or_default();
            let mut ids = before.clone();
            ids.retain(|id| !remove.contains(id));
            for id in add {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
            let excess = ids.len().saturating_sub(INDEX_LIMIT);
            ids.drain(..excess);
            if ids == before {
                return Ok(());
            }
            let value = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
            if store
                .kv_swap(INDEX_NAMESPACE, INDEX_KEY, read_as.as_deref(), &value)
                .await?
            {
                return Ok(());
            }
        }
        Err(StoreError::Conflict(
            "the pending-drafts index kept changing concurrently".into(),
        ))
    }

    /// After a commit that may have changed the conversation's drafts: keeps the
    /// pending-drafts index and tells the desks what was created and what was decided
    /// or withdrawn. Best effort; the commit stands either way.
    pub(crate) async fn drafts_committed(&self, before: &[Draft], after: &ConversationRecord) {
        let created: Vec<&Draft> = after
            .state
            .drafts
            .iter()
            .filter(|d| !before.iter().any(|b| b.id == d.id))
            .collect();
        let gone: Vec<&Draft> = before
            .iter()
            .filter(|b| !after.state.drafts.iter().any(|d| d.id == b.id))
            .collect();
        if created.is_empty() && gone.is_empty() {
            return;
        }
        let id = after.id.as_str().to_owned();
        let (add, remove) = if after.state.drafts.is_empty() {
            (vec![], vec![id])
        } else {
            (vec![id], vec![])
        };
        if let Err(error) = self.update_draft_index(&add, &remove).await {
            warn!(%error, "The pending-drafts index could not be updated.");
        }
        let at = crate::handoff::rfc3339(self.inner.clock.now());
        let mut updates = Vec::new();
        for d in created {
            updates.push(DraftUpdate {
                draft: view(after, d),
                state: "pending".into(),
                agent: None,
                final_text: None,
                at: at.clone(),
            });
        }
        for d in gone {
            let record = after
                .state
                .draft_log
                .iter()
                .rev()
                .find(|r| r.draft_id == d.id);
            updates.push(DraftUpdate {
                draft: view(after, d),
                state: record.map_or("withdrawn", |r| r.outcome.as_str()).into(),
                agent: record.and_then(|r| r.agent.as_ref()).map(|a| Agent {
                    id: a.id.clone(),
                    name: a.name.clone(),
                }),
                final_text: record.and_then(|r| r.final_text.clone()),
                at: at.clone(),
            });
        }
        let desks: Vec<_> = self
            .inner
            .desk_handles
            .read()
            .expect("desk registry lock poisoned")
            .values()
            .cloned()
            .collect();
        for desk in desks {
            for u in &updates {
                if let Err(e) = desk.draft_changed(u.clone()).await {
                    debug!(error = %e, "A desk was not told about a draft.");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::ConversationState;

    fn selected() -> DraftsConfig {
        DraftsConfig {
            mode: DraftMode::Selected,
            queues: vec!["billing".into()],
            categories: vec!["legal".into()],
            suggest: false,
        }
    }

    #[test]
    fn modes_select_turns() {
        let off = DraftsConfig::default();
        assert_eq!(off.applies(["legal"], ["billing"]), None);
        let all = DraftsConfig {
            mode: DraftMode::All,
            ..DraftsConfig::default()
        };
        assert_eq!(all.applies([], []), Some(Selection::default()));
        let sel = selected();
        assert_eq!(
            sel.applies([], []),
            None,
            "nothing selected without a category"
        );
        assert_eq!(sel.applies(["revenue"], ["support"]), None);
        assert_eq!(
            sel.applies(["revenue", "legal"], []),
            Some(Selection {
                category: Some("legal".into()),
                queue: None
            })
        );
        assert_eq!(
            sel.applies([], ["billing"]),
            Some(Selection {
                category: None,
                queue: Some("billing".into())
            })
        );
    }

    #[test]
    fn suggestions_follow_suggest_and_the_selection() {
        let mut sel = selected();
        assert_eq!(sel.suggests(Some("legal"), None), None, "suggest is off");
        sel.suggest = true;
        assert!(sel.suggests(Some("legal"), None).is_some());
        assert!(sel.suggests(Some("revenue"), Some("support")).is_none());
        let everywhere = DraftsConfig {
            suggest: true,
            ..DraftsConfig::default()
        };
        assert!(everywhere.suggests(None, None).is_some());
    }

    #[test]
    fn modes_parse() {
        assert_eq!(DraftMode::parse("off"), Some(DraftMode::Off));
        assert_eq!(DraftMode::parse("all"), Some(DraftMode::All));
        assert_eq!(DraftMode::parse("selected"), Some(DraftMode::Selected));
        assert_eq!(DraftMode::parse("ALL"), None);
        assert_eq!(DraftMode::parse("some"), None);
    }

    fn handoff(id: &str, status: HandoffStatus) -> crate::store::HandoffState {
        crate::store::HandoffState {
            id: id.into(),
            desk: "console".into(),
            status,
            category: None,
            priority: None,
            target: None,
            agent: None,
            transitions: vec![],
            csat: None,
            sla_breached_at_ms: None,
            assignee: None,
            routing: vec![],
        }
    }

    #[test]
    fn stale_drafts_are_withdrawn_never_kept() {
        let now = Timestamp::UNIX_EPOCH + time::Duration::hours(1);
        let mut state = ConversationState::default();
        add(
            &mut state,
            DraftSource::Bot,
            DraftParts {
                text: "Our hours are 9-5.".into(),
                ..DraftParts::default()
            },
            now,
        );
        add(
            &mut state,
            DraftSource::Suggestion,
            DraftParts {
                text: "Refunds take 5 days.".into(),
                handoff_id: Some("ho_1".into()),
                ..DraftParts::default()
            },
            now,
        );
        // The bot owns it and ho_1 is not open: the suggestion is stale.
        assert_eq!(withdraw_stale(&mut state, now), 1);
        assert_eq!(state.drafts.len(), 1);
        assert_eq!(state.drafts[0].source, DraftSource::Bot);
        // Handed off with ho_1 open: the bot draft is stale, a new suggestion is not.
        state.owner = Owner::Queue;
        state.handoff = Some(handoff("ho_1", HandoffStatus::Queued));
        add(
            &mut state,
            DraftSource::Suggestion,
            DraftParts {
                text: "Refunds take 5 days.".into(),
                handoff_id: Some("ho_1".into()),
                ..DraftParts::default()
            },
            now,
        );
        assert_eq!(withdraw_stale(&mut state, now), 1);
        assert_eq!(state.drafts.len(), 1);
        assert_eq!(state.drafts[0].source, DraftSource::Suggestion);
        let log: Vec<_> = state.draft_log.iter().map(|r| r.outcome).collect();
        assert_eq!(log, [DraftOutcome::Withdrawn, DraftOutcome::Withdrawn]);
        assert!(
            state
                .draft_log
                .iter()
                .all(|r| r.agent.is_none() && r.final_text.is_none())
        );
    }

    #[test]
    fn pending_drafts_are_bounded() {
        let now = Timestamp::UNIX_EPOCH;
        let mut state = ConversationState::default();
        for i in 0..PENDING_KEPT + 3 {
            add(
                &mut state,
                DraftSource::Bot,
                DraftParts {
                    text: format!("answer {i}"),
                    ..DraftParts::default()
                },
                now,
            );
        }
        assert_eq!(state.drafts.len(), PENDING_KEPT);
        assert_eq!(state.drafts[0].text, "answer 3");
        assert_eq!(state.draft_log.len(), 3);
    }

    #[test]
    fn old_state_documents_load_without_drafts() {
        let state: ConversationState =
            serde_json::from_str(r#"{"owner":"bot","fallback_count":1}"#).unwrap();
        assert!(state.drafts.is_empty() && state.draft_log.is_empty());
        // And a state without drafts is written as before.
        let text = serde_json::to_string(&ConversationState::default()).unwrap();
        assert!(!text.contains("draft"), "{text}");
    }
}
