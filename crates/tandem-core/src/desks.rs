//! The core's side of agent desks: registering desks, routing handoffs to them, building
//! briefings, and applying what agents do (accept, reply, resolve, release).
//!
//! Agent actions are recorded in the inbound log like customer messages (pseudo-channel
//! `desk:<id>`, deduplicated on the desk's delivery or event id) and processed by the same
//! workers, so an acknowledged action is never lost and a redelivered one has no effect.

use crate::ai::BriefingInput;
pub use crate::engine::desk::{AGENT_JOINED, BOT_IS_BACK};
use crate::engine::{self, Reach, desk::DeskEventDoc};
use crate::executor::Step;
use crate::handoff::{self, DeskTarget, desk_channel, desk_of};
use crate::policy::Decision;
use crate::router::Core;
use crate::store::{
    AgentRef, AiAuditRecord, ConversationRecord, CustomerRecord, HandoffState, HandoffStatus,
    Owner, PendingInbound, StoreError,
};
use async_trait::async_trait;
use std::sync::Arc;
use tandem_model::{
    Content, ConversationId, ExternalIdentity, InboundMessage, Party, PlatformMessageId, Timestamp,
    TranscriptEntry,
};
use tandem_sdk::handoff::{HandoffRequested, Window};
use tandem_sdk::{
    AgentDesk, DeskAnswer, DeskEvent, DeskEventHandler, DeskEventKind, DeskRefusal, InboundError,
    TransferTarget,
};
use tracing::{debug, warn};

/// Key-value namespace mapping handoff ids to conversation ids.
const HANDOFF_INDEX: &str = "handoffs";

impl Core {
    /// Registers a desk; `queues` are the targets it serves (empty: every target).
    pub fn register_desk(&self, id: &str, desk: Arc<dyn AgentDesk>, queues: Vec<String>) {
        self.inner
            .desk_handles
            .write()
            .expect("desk registry lock poisoned")
            .insert(id.to_owned(), desk.clone());
        self.register_channel(
            desk_channel(id),
            Arc::new(DeskTarget::new(desk, self.inner.config.media_links.clone())),
        );
        self.inner
            .desks
            .write()
            .expect("desk registry lock poisoned")
            .insert(id.to_owned(), queues);
    }

    /// The desk for a target queue: one that lists it, else one that serves every queue.
    pub(crate) fn desk_for(&self, target: Option<&str>) -> Option<String> {
        let desks = self
            .inner
            .desks
            .read()
            .expect("desk registry lock poisoned");
        target
            .and_then(|t| {
                desks
                    .iter()
                    .find(|(_, queues)| queues.iter().any(|q| q == t))
            })
            .or_else(|| desks.iter().find(|(_, queues)| queues.is_empty()))
            .or_else(|| desks.iter().next())
            .map(|(id, _)| id.clone())
    }

    /// Opens a handoff for `decision` on the conversation `next` (being planned), when a
    /// desk serves its target: the queue becomes the owner and the desk's `open`
    /// operation (with the briefing) is returned for the turn's outbox. `None` when no desk
    /// is configured. `trigger` is the entry that caused it (part of the briefing).
    pub(crate) async fn start_handoff(
        &self,
        next: &mut ConversationRecord,
        customer: &CustomerRecord,
        decision: &Decision,
        trigger: &TranscriptEntry,
        now: Timestamp,
        ai_audit: &mut Vec<AiAuditRecord>,
    ) -> Option<(String, tandem_sdk::DeskOp)> {
        let desk = self.desk_for(decision.target.as_deref())?;
        let h = handoff::open(&desk, decision, now);
        next.state.owner = Owner::Queue;
        next.state.handoff_requested = true;
        let (body, record) = self
            .briefing(next, customer, decision, &h, trigger, now)
            .await;
        ai_audit.push(record);
        self.remember_handoff(&h.id, &next.id).await;
        next.state.handoff = Some(h);
        Some((desk, tandem_sdk::DeskOp::Open(Box::new(body))))
    }

    /// The customer's earlier conversations (any channel) for `repeat_contact`: what each
    /// was about (its last recognised intent) and when it opened; `None` when the store
    /// could not be read.
    pub(crate) async fn past_contacts(
        &self,
        customer: &CustomerRecord,
        current: &ConversationId,
    ) -> Option<Vec<crate::policy::PastContact>> {
        let list = match self.inner.store.conversations_of(&customer.id, 50).await {
            Ok(list) => list,
            Err(e) => {
                warn!(error = %e, "Reading the customer's earlier conversations failed.");
                return None;
            }
        };
        let past = list
            .into_iter()
            .filter(|c| &c.id != current)
            .filter_map(|c| {
                c.state
                    .last_intent
                    .map(|intent| crate::policy::PastContact {
                        intent,
                        at: c.opened_at,
                    })
            })
            .collect();
        Some(past)
    }

    /// The conversation a handoff belongs to.
    pub(crate) async fn conversation_of_handoff(
        &self,
        handoff_id: &str,
    ) -> Result<Option<ConversationId>, StoreError> {
        Ok(self
            .inner
            .store
            .kv_get(HANDOFF_INDEX, handoff_id)
            .await?
            .map(ConversationId::new))
    }

    /// Remembers which conversation a handoff belongs to (desk events name the handoff).
    pub(crate) async fn remember_handoff(&self, handoff_id: &str, conversation: &ConversationId) {
        if let Err(e) = self
            .inner
            .store
            .kv_put(HANDOFF_INDEX, handoff_id, conversation.as_str())
            .await
        {
            // The commit that follows fails too when the store is down; the message is retried.
            warn!(error = %e, "Recording a handoff index entry failed.");
        }
    }

    /// The `handoff.requested` briefing for a handoff being opened by this turn, with the
    /// AI audit record of its summary (for the turn to commit).
    pub(crate) async fn briefing(
        &self,
        conversation: &ConversationRecord,
        customer: &CustomerRecord,
        decision: &Decision,
        h: &HandoffState,
        trigger: &TranscriptEntry,
        now: Timestamp,
    ) -> (HandoffRequested, AiAuditRecord) {
        let store = &self.inner.store;
        let mut transcript = store
            .transcript(&conversation.id, handoff::BRIEFING_TRANSCRIPT_LIMIT)
            .await
            .unwrap_or_default();
        transcript.push(trigger.clone());
        let identities = store.identities(&customer.id).await.unwrap_or_default();
        let started = std::time::Instant::now();
        let summary = self
            .inner
            .summarizer
            .summarize(BriefingInput {
                transcript: &transcript,
                state: &conversation.state,
                decision,
                customer_name: customer.display_name.as_deref(),
            })
            .await;
        let record = crate::audit::AuditScope {
            conversation: &conversation.id,
            customer: &customer.id,
            message_seq: trigger.seq,
            at: now,
            store_prompts: self.inner.config.store_prompts,
        }
        .briefing(&summary, started.elapsed());
        let body = handoff::requested(handoff::BriefingParts {
            handoff: h,
            conversation,
            customer,
            identities: &identities,
            decision,
            summary,
            transcript: &transcript,
            window: self.window_of(conversation, now),
            now,
        });
        (body, record)
    }

    /// Where replies to `conv`'s customer go: the channel the customer last wrote on
    /// (the conversation's), their address there and its capabilities.
    pub(crate) async fn reach(&self, conv: &ConversationRecord) -> Result<Reach, StoreError> {
        let recipient = self
            .inner
            .store
            .identities(&conv.customer_id)
            .await?
            .into_iter()
            .find(|i| i.channel == conv.channel)
            .map(|i| i.subject);
        let caps = self
            .adapter(&conv.channel)
            .map(|a| a.capabilities().clone());
        Ok(Reach { recipient, caps })
    }

    /// A desk confirmed it has the thread: the handoff is queued for an agent.
    pub(crate) async fn on_desk_opened(&self, conversation: &ConversationId, handoff_id: &str) {
        let store = &self.inner.store;
        let _ = self
            .apply(
                "a desk opened a thread",
                || store.conversation(conversation),
                |conv| async move {
                    let now = self.inner.clock.now();
                    Ok(match engine::desk::opened(conv, handoff_id, now) {
                        Some(turn) => Step::Commit(turn, ()),
                        None => Step::Done(()),
                    })
                },
            )
            .await;
    }

    /// Applies one recorded agent action.
    pub(crate) async fn process_desk_event(
        &self,
        pending: PendingInbound,
    ) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let doc: Option<DeskEventDoc> = match &pending.message.content {
            Content::Postback { payload, .. } => serde_json::from_str(payload).ok(),
            _ => None,
        };
        let Some(doc) = doc else {
            warn!("Unreadable desk event in the inbound log; skipped.");
            store.mark_inbound_processed(pending.seq, now).await?;
            return Ok(());
        };
        let Some(conversation_id) = store.kv_get(HANDOFF_INDEX, &doc.handoff_id).await? else {
            debug!("Desk event for an unknown handoff; skipped.");
            store.mark_inbound_processed(pending.seq, now).await?;
            return Ok(());
        };
        let conversation_id = ConversationId::new(conversation_id);
        let (pending, doc) = (&pending, &doc);
        let decide = |conv: ConversationRecord| async move {
            // A reply implicitly takes the handoff: routing learns it from the first one,
            // not from every agent message.
            let was_taken = conv
                .state
                .handoff
                .as_ref()
                .is_some_and(|h| h.id == doc.handoff_id && h.status == HandoffStatus::Accepted);
            let reach = self.reach(&conv).await?;
            let facts = engine::desk::DeskFacts {
                supervisors: &self.inner.config.supervisors,
                reach: &reach,
                window_open: self.window_of(&conv, now).open,
            };
            Ok(match engine::desk::event(pending, doc, conv, &facts, now) {
                Some(turn) => {
                    let after = turn.conversation.state.handoff.clone();
                    Step::Commit(turn, Some((was_taken, after)))
                }
                None => Step::Done(None),
            })
        };
        let applied = self
            .apply(
                "applying a desk event",
                || store.conversation(&conversation_id),
                decide,
            )
            .await;
        let (was_taken, after) = match applied {
            Ok(Some(Some(done))) => done,
            Ok(_) => {
                debug!("Desk event for a handoff or conversation that is no longer open; skipped.");
                store.mark_inbound_processed(pending.seq, now).await?;
                return Ok(());
            }
            Err(StoreError::AlreadyProcessed) => return Ok(()),
            Err(e) => return Err(e),
        };
        match doc.kind.as_str() {
            "resolved" | "released" => self.handoff_finished(&doc.handoff_id).await,
            "transferred" => {
                self.handoff_transferred(&conversation_id, doc, after.as_ref())
                    .await;
            }
            // An explicit accept always counts (another agent may take over).
            "accepted" | "agent_message" if doc.kind == "accepted" || !was_taken => {
                self.handoff_taken(&doc.handoff_id, doc.agent_id.as_deref())
                    .await;
            }
            _ => {}
        }
        Ok(())
    }
}

impl Core {
    /// Tells the desk an agent's reply came from how its delivery fares (sent, delivered,
    /// read, failed, undeliverable), when `entry` renders such a reply. Best effort: a desk
    /// that missed a report shows the last state it heard of.
    pub(crate) async fn tell_desk_about_reply(&self, entry: &crate::store::OutboxEntry) {
        if entry.message.from != Party::Agent || desk_of(&entry.message.channel).is_some() {
            return;
        }
        let Some((state, detail)) = reply_state(entry) else {
            return;
        };
        let store = &self.inner.store;
        let Ok(Some(conv)) = store.conversation(&entry.message.conversation_id).await else {
            return;
        };
        let Ok(transcript) = store.transcript(&conv.id, 500).await else {
            return;
        };
        let Some(key) = transcript
            .iter()
            .rev()
            .find(|t| t.id == entry.message.message_id)
            .and_then(|t| t.platform_message_id.clone())
        else {
            return;
        };
        // The handoff the reply was written in: the open one, else the newest closed one.
        let Some(h) = conv
            .state
            .handoff
            .as_ref()
            .or_else(|| conv.state.past_handoffs.last())
        else {
            return;
        };
        let desk = self
            .inner
            .desk_handles
            .read()
            .expect("desk registry lock poisoned")
            .get(&h.desk)
            .cloned();
        let Some(desk) = desk else {
            return;
        };
        let report = tandem_sdk::ReplyDelivery {
            handoff_id: h.id.clone(),
            event_key: key.as_str().to_owned(),
            state: state.to_owned(),
            detail,
            at: crate::handoff::rfc3339(self.inner.clock.now()),
        };
        if let Err(e) = desk.reply_delivery(report).await {
            debug!(error = %e, "A desk was not told how an agent's reply fared.");
        }
    }
}

/// The state of an agent's reply as desks show it: `sent`, `delivered`, `read`, `failed`
/// or `undeliverable` (with why); `None` while it is still being sent.
pub(crate) fn reply_state(
    entry: &crate::store::OutboxEntry,
) -> Option<(&'static str, Option<String>)> {
    use crate::store::OutboxStatus;
    use tandem_model::DeliveryState;
    match entry.status {
        OutboxStatus::Sent => Some((
            match entry.delivery_state {
                Some(DeliveryState::Delivered) => "delivered",
                Some(DeliveryState::Read) => "read",
                _ => "sent",
            },
            None,
        )),
        OutboxStatus::Failed => {
            let error = entry.last_error.clone().unwrap_or_default();
            Some(match error.strip_prefix("undeliverable: ") {
                Some(why) if why.starts_with("window_closed") => {
                    ("undeliverable", Some("window closed".to_owned()))
                }
                Some(why) if why.starts_with("unreachable") => {
                    ("undeliverable", Some("customer unreachable".to_owned()))
                }
                Some(why) => ("undeliverable", Some(why.to_owned())),
                None => ("failed", Some(error).filter(|e| !e.is_empty())),
            })
        }
        OutboxStatus::Pending | OutboxStatus::InFlight => None,
    }
}

impl Core {
    /// Why the agent of `doc` may not act on its handoff now (another agent owns it),
    /// or `None`. Unknown or closed handoffs are not refused here: recording them is
    /// harmless (they are skipped when applied).
    async fn refusal(&self, doc: &DeskEventDoc) -> Result<Option<DeskRefusal>, StoreError> {
        let store = &self.inner.store;
        let Some(conversation) = store.kv_get(HANDOFF_INDEX, &doc.handoff_id).await? else {
            return Ok(None);
        };
        let Some(conv) = store
            .conversation(&ConversationId::new(conversation))
            .await?
        else {
            return Ok(None);
        };
        Ok(conv
            .state
            .handoff
            .as_ref()
            .filter(|h| h.id == doc.handoff_id && !h.status.is_closed())
            .and_then(|h| {
                crate::engine::ownership::authorize(
                    h,
                    doc.agent_id.as_deref(),
                    &self.inner.config.supervisors,
                )
                .err()
            }))
    }

    /// A transfer committed: the new agent holds the handoff, or it goes back to routing
    /// in its new queue (the previous agent's capacity is freed either way).
    async fn handoff_transferred(
        &self,
        conversation: &ConversationId,
        doc: &DeskEventDoc,
        after: Option<&HandoffState>,
    ) {
        if let Some(to) = &doc.to_agent {
            self.handoff_taken(&doc.handoff_id, Some(&to.id)).await;
            return;
        }
        let now = self.inner.clock.now();
        match self.inner.store.release_agent(&doc.handoff_id, now).await {
            Ok(Some(_)) => self.dispatch_later(),
            Ok(None) => {}
            Err(error) => warn!(%error, "Releasing a transferred handoff's agent failed."),
        }
        if let Some(h) = after.filter(|h| h.id == doc.handoff_id)
            && let Err(error) = self.route(conversation, h).await
        {
            warn!(%error, "Routing a transferred handoff failed; it waits at the desk.");
        }
    }

    /// The reply channel's messaging window as the briefing shows it: open with its
    /// expiry on WhatsApp and Messenger while the customer's last message is recent,
    /// closed after; always open on channels without a window.
    fn window_of(&self, conversation: &ConversationRecord, now: tandem_model::Timestamp) -> Window {
        let policy = self
            .adapter(&conversation.channel)
            .map_or(tandem_model::WindowPolicy::None, |a| {
                a.capabilities().window
            });
        let last = crate::window::last_customer_message(&conversation.state, &conversation.channel);
        let summary = crate::window::summary(&policy, last, now);
        Window {
            open: summary.open,
            expires_at: summary.expires_at.and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            }),
        }
    }
}

#[async_trait]
impl DeskEventHandler for Core {
    async fn desk_event(
        &self,
        desk: &str,
        dedupe_key: &str,
        event: DeskEvent,
    ) -> Result<DeskAnswer, InboundError> {
        if dedupe_key.is_empty() || event.handoff_id.is_empty() {
            return Err(InboundError::Rejected(
                "a dedupe key and a handoff id are required".into(),
            ));
        }
        let (mut to_agent, mut to_queue, mut media) = (None, None, None);
        let (kind, text) = match event.kind {
            DeskEventKind::Accepted => ("accepted", None),
            DeskEventKind::AgentMessage { text } => ("agent_message", Some(text)),
            DeskEventKind::AgentMedia { text, media: m } => {
                media = Some(m);
                ("agent_message", Some(text))
            }
            DeskEventKind::Resolved => ("resolved", None),
            DeskEventKind::Released => ("released", None),
            DeskEventKind::Transferred { to } => {
                match to {
                    TransferTarget::Agent(a) if !a.id.trim().is_empty() => {
                        to_agent = Some(AgentRef {
                            id: a.id,
                            name: a.name,
                        });
                    }
                    TransferTarget::Queue(q) if !q.trim().is_empty() => to_queue = Some(q),
                    _ => {
                        return Err(InboundError::Rejected(
                            "a transfer names an agent id or a queue".into(),
                        ));
                    }
                }
                ("transferred", None)
            }
        };
        let doc = DeskEventDoc {
            handoff_id: event.handoff_id,
            kind: kind.to_owned(),
            text,
            agent_id: event.agent.as_ref().map(|a| a.id.clone()),
            agent_name: event.agent.as_ref().and_then(|a| a.name.clone()),
            to_agent,
            to_queue,
            media,
        };
        if let Some(refusal) = self
            .refusal(&doc)
            .await
            .map_err(|e| InboundError::Unavailable(e.to_string()))?
        {
            return Ok(DeskAnswer::Refused(refusal));
        }
        let channel = desk_channel(desk);
        let subject = doc
            .agent_id
            .clone()
            .map_or_else(|| "desk".to_owned(), |a| format!("agent:{a}"));
        let msg = InboundMessage {
            channel: channel.clone(),
            platform_message_id: PlatformMessageId::new(dedupe_key),
            sender: ExternalIdentity::new(channel, subject),
            sent_at: self.inner.clock.now(),
            content: Content::Postback {
                payload: serde_json::to_string(&doc).expect("desk events always serialize"),
                title: None,
            },
        };
        debug_assert!(desk_of(&msg.channel).is_some());
        tandem_sdk::InboundHandler::accept(self, msg)
            .await
            .map(DeskAnswer::Recorded)
    }

    async fn share(&self, topic: &str, payload: &str) -> Result<(), InboundError> {
        Core::share(self, topic, payload).await
    }

    async fn upload(
        &self,
        _desk: &str,
        handoff_id: &str,
        file: tandem_sdk::media::FetchedMedia,
    ) -> Result<tandem_model::OutboundMedia, InboundError> {
        self.upload_from_agent(handoff_id, file).await
    }

    fn shared_updates(&self, topic: &str) -> Option<futures::stream::BoxStream<'static, String>> {
        Core::shared_updates(self, topic)
    }

    async fn pending_drafts(&self) -> Result<Vec<tandem_sdk::DraftView>, InboundError> {
        Core::pending_drafts(self)
            .await
            .map_err(|e| InboundError::Unavailable(e.to_string()))
    }

    async fn decide_draft(
        &self,
        conversation_id: &str,
        draft_id: &str,
        agent: tandem_sdk::handoff::Agent,
        decision: tandem_sdk::DraftDecision,
    ) -> Result<tandem_sdk::DraftAnswer, InboundError> {
        if conversation_id.is_empty() || draft_id.is_empty() || agent.id.trim().is_empty() {
            return Err(InboundError::Rejected(
                "a conversation, a draft and an agent are required".into(),
            ));
        }
        Core::decide_draft(
            self,
            &ConversationId::new(conversation_id),
            draft_id,
            AgentRef {
                id: agent.id,
                name: agent.name,
            },
            decision,
        )
        .await
        .map_err(|e| InboundError::Unavailable(e.to_string()))
    }

    async fn kv_get(&self, desk: &str, key: &str) -> Result<Option<String>, InboundError> {
        self.inner
            .store
            .kv_get(desk_channel(desk).as_str(), key)
            .await
            .map_err(|e| InboundError::Unavailable(e.to_string()))
    }

    async fn kv_put(&self, desk: &str, key: &str, value: &str) -> Result<(), InboundError> {
        self.inner
            .store
            .kv_put(desk_channel(desk).as_str(), key, value)
            .await
            .map_err(|e| InboundError::Unavailable(e.to_string()))
    }

    async fn kv_swap(
        &self,
        desk: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, InboundError> {
        self.inner
            .store
            .kv_swap(desk_channel(desk).as_str(), key, expected, value)
            .await
            .map_err(|e| InboundError::Unavailable(e.to_string()))
    }

    async fn agent_account(
        &self,
        id: &str,
    ) -> Result<Option<tandem_sdk::AgentAccount>, InboundError> {
        self.account(id)
            .await
            .map_err(|e| InboundError::Unavailable(e.to_string()))
    }

    async fn agent_accounts(&self) -> Result<Vec<tandem_sdk::AgentAccount>, InboundError> {
        self.accounts()
            .await
            .map_err(|e| InboundError::Unavailable(e.to_string()))
    }

    async fn sign_in(
        &self,
        sign_in: tandem_sdk::SignIn,
    ) -> Result<Option<tandem_sdk::AgentAccount>, InboundError> {
        self.sign_in_agent(sign_in).await
    }
}
