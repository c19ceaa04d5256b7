//! Handoff SLAs: a handoff nobody accepts within its priority's time is a breach. The
//! breach is recorded on the handoff, counted in `/metrics` and logged; with
//! `ReturnToBot` the handoff times out instead and the bot takes the conversation back
//! (the desk gets `handoff.closed` with reason `timed_out`); with `Reroute` it moves to
//! its queue's overflow queue (a routing step `rerouted` on the handoff, `handoff.updated`
//! to the desk, or `handoff.closed` reason `rerouted` plus a new `handoff.requested` when
//! another desk serves that queue), its assigned agent is released, routing looks for an
//! agent there and a fresh SLA starts; a queue without overflow alerts.
//!
//! SLA timers are durable ([`crate::timers`], keyed `sla:<handoff>`): claimed under a
//! lease by whichever process comes first, they fire at their due time across restarts,
//! `kill -9` and replicas, and firing is idempotent ([`Core::check_sla`] acts only on a
//! handoff still waiting whose SLA has really run out, and records the breach). At
//! start-up [`Core::resume_sla_timers`] also schedules one for every handoff still waiting
//! (in the store's queue or held by an agent, see [`crate::routing`]), which covers
//! handoffs opened before timers were durable; scheduling the same key again is harmless.

use crate::engine::{self, sla::Breach};
use crate::executor::Step;
use crate::handoff::{self, ms};
use crate::policy::Decision;
use crate::router::Core;
use crate::routing::queue_of;
use crate::store::{ConversationRecord, HandoffStatus, Reason, RoutingStep, StoreError, Turn};
use std::time::Duration;
use tandem_model::ConversationId;
use tandem_sdk::DeskOp;
use tracing::warn;

pub use crate::config::{SlaBreach, SlaConfig};
pub use crate::engine::sla::NO_AGENT_NOTICE;

impl Core {
    /// Looks at a new handoff again once its SLA has passed.
    pub(crate) async fn schedule_sla(
        &self,
        conversation: ConversationId,
        handoff_id: String,
        priority: Option<&str>,
    ) {
        let Some(after) = self.inner.config.sla.for_priority(priority) else {
            return;
        };
        self.schedule_sla_in(conversation, handoff_id, after).await;
    }

    /// Looks at a handoff again after `after` (a durable timer).
    async fn schedule_sla_in(
        &self,
        conversation: ConversationId,
        handoff_id: String,
        after: Duration,
    ) {
        let due = self.inner.clock.now() + after;
        let timer = crate::timers::Timer::Sla {
            conversation_id: conversation,
            handoff_id,
        };
        if let Err(error) = self.schedule(&timer, due).await {
            warn!(%error, "Scheduling a handoff SLA timer failed.");
        }
    }

    pub(crate) async fn check_sla(
        &self,
        id: &ConversationId,
        handoff_id: &str,
    ) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let decide = |conv: ConversationRecord| async move {
            let now = self.inner.clock.now();
            // For the notice when the bot takes over.
            let reach = self.reach(&conv).await?;
            let facts = engine::sla::BreachFacts {
                config: &self.inner.config.sla,
                reach: &reach,
            };
            let Some((priority, breach)) = engine::sla::breach(conv, handoff_id, &facts, now)
            else {
                // Not waiting any more, or a stale timer (one set before a re-route
                // restarted the clock, or a second one set at start-up): nothing to do.
                return Ok(Step::Done(None));
            };
            Ok(match breach {
                Breach::Alert(turn) => Step::Commit(turn, Some((priority, None, false))),
                Breach::ReturnToBot(turn) => Step::Commit(turn, Some((priority, None, true))),
                Breach::Reroute {
                    mut next,
                    mut handoff,
                    from,
                    to,
                } => {
                    let mut ai_audit = Vec::new();
                    let outbox = self
                        .reroute(&mut next, &mut handoff, &from, &to, now, &mut ai_audit)
                        .await?;
                    let rerouted = Some((from, handoff.clone()));
                    next.state.handoff = Some(handoff);
                    let turn = Turn {
                        outbox,
                        ai_audit,
                        ..Turn::of(next)
                    };
                    Step::Commit(turn, Some((priority, rerouted, false)))
                }
            })
        };
        let applied = self
            .apply("an SLA breach", || store.conversation(id), decide)
            .await?;
        let Some(Some((priority, rerouted, finished))) = applied else {
            return Ok(());
        };
        self.inner.metrics.sla_breach(&priority);
        if let Some((from, h)) = rerouted {
            let to = queue_of(&h).to_owned();
            self.inner.metrics.reroute(&from, &to);
            warn!(%priority, %from, %to, "Handoff not accepted within its SLA; re-routed.");
            self.moved_queue(id, &h).await;
        } else {
            warn!(%priority, "Handoff not accepted within its SLA.");
        }
        if finished {
            self.handoff_finished(handoff_id).await;
        }
        Ok(())
    }

    /// Moves open handoff `h` of `next` from queue `from` to `to`: the routing step, the
    /// assignee dropped, a fresh SLA; returns the desk operations (an update at the same
    /// desk, or a close at the old desk and an open at the desk serving `to`).
    async fn reroute(
        &self,
        next: &mut crate::store::ConversationRecord,
        h: &mut crate::store::HandoffState,
        from: &str,
        to: &str,
        now: tandem_model::Timestamp,
        ai_audit: &mut Vec<crate::store::AiAuditRecord>,
    ) -> Result<Vec<crate::store::NewOutboxEntry>, StoreError> {
        h.target = Some(to.to_owned());
        h.assignee = None;
        h.sla_breached_at_ms = None;
        h.routing.push(RoutingStep {
            change: "rerouted".into(),
            queue: to.to_owned(),
            from: Some(from.to_owned()),
            agent: None,
            at_ms: ms(now),
        });
        let desk = self.desk_for(Some(to)).unwrap_or_else(|| h.desk.clone());
        if desk == h.desk {
            let op = DeskOp::Update(handoff::updated(h, next, "rerouted", now));
            return Ok(vec![handoff::desk_entry(next, &h.desk, op, now)]);
        }
        let mut closed = handoff::closed(h, next);
        closed.reason = "rerouted".into();
        let mut ops = vec![handoff::desk_entry(
            next,
            &h.desk,
            DeskOp::Close(closed),
            now,
        )];
        h.desk = desk;
        let Some(customer) = self.inner.store.customer(&next.customer_id).await? else {
            return Ok(ops);
        };
        let waited = self
            .inner
            .config
            .sla
            .for_priority(h.priority.as_deref())
            .map_or(0, |d| d.as_secs());
        let decision = Decision {
            escalate: true,
            reasons: vec![Reason {
                code: "sla_breach".into(),
                category: h.category.clone(),
                evidence: format!("not accepted within {waited} s in {from}"),
            }],
            category: h.category.clone(),
            priority: h.priority.clone(),
            target: h.target.clone(),
            offers: Vec::new(),
        };
        let note = crate::engine::handoff::system_entry(
            next,
            &format!("Re-routed from {from}: nobody accepted in time."),
            now,
        );
        let (body, record) = self
            .briefing(next, &customer, &decision, h, &note, now)
            .await;
        ai_audit.push(record);
        ops.push(handoff::desk_entry(
            next,
            &h.desk,
            DeskOp::Open(Box::new(body)),
            now,
        ));
        Ok(ops)
    }

    /// After a re-route committed: the handoff leaves its old queue entry and agent, and
    /// is routed in its new queue with a fresh SLA.
    async fn moved_queue(&self, conversation: &ConversationId, h: &crate::store::HandoffState) {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let _ = store.dequeue_handoff(&h.id).await;
        if let Ok(Some(_)) = store.release_agent(&h.id, now).await {
            self.dispatch_later();
        }
        self.handoff_opened(conversation, h).await;
    }

    /// Sets the SLA timers of every handoff still waiting for an agent (after a restart):
    /// those in the queue and those assigned but not accepted. Each is due its priority's
    /// SLA after it was opened or last re-routed. Returns how many were set.
    pub async fn resume_sla_timers(&self) -> Result<usize, StoreError> {
        let store = &self.inner.store;
        let mut handoffs: Vec<(String, Option<ConversationId>)> = store
            .queued_handoffs()
            .await?
            .into_iter()
            .map(|q| (q.handoff_id, Some(q.conversation_id)))
            .collect();
        for agent in store.agents().await? {
            handoffs.extend(agent.active.into_iter().map(|h| (h, None)));
        }
        let now = ms(self.inner.clock.now());
        let mut set = 0;
        for (handoff_id, conversation) in handoffs {
            let conversation = match conversation {
                Some(c) => c,
                None => match self.conversation_of_handoff(&handoff_id).await? {
                    Some(c) => c,
                    None => continue,
                },
            };
            let Some(conv) = store.conversation(&conversation).await? else {
                continue;
            };
            let Some(h) = conv.state.handoff.as_ref().filter(|h| {
                h.id == handoff_id
                    && matches!(h.status, HandoffStatus::Requested | HandoffStatus::Queued)
                    && h.sla_breached_at_ms.is_none()
            }) else {
                continue;
            };
            let Some(due) = engine::sla::due_ms(&self.inner.config.sla, h) else {
                continue;
            };
            let left = Duration::from_millis(u64::try_from(due - now).unwrap_or(0));
            self.schedule_sla_in(conversation, handoff_id, left).await;
            set += 1;
        }
        Ok(set)
    }
}
