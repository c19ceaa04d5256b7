//! Routing: which agent takes a handoff.
//!
//! Agents (skills, capacity, status; admin API) live in the store. When a handoff opens,
//! routing claims an available agent with the queue's skill and spare capacity (the least
//! loaded) and tells the desk (`handoff.updated`, change `assigned`); when nobody can take
//! it, the handoff waits in the store's queue, ordered by priority then age. Whenever
//! capacity frees up (a handoff closes, an agent becomes available or is added), the
//! queue is dispatched again in that order. An agent accepting at the desk holds the
//! handoff from then on (even beyond capacity: they chose to); closing releases it.
//!
//! The queue a handoff waits in is its target (`default` when the policy named none);
//! an agent's skills are the queues they serve. Routing runs after the turn that opened
//! the handoff committed, so a plan that lost a conflict never claims anyone. What is
//! lost on a crash between that commit and the claim is the handoff's place in Tandem's
//! queue; the desk still has it and an agent can still accept it there.

use crate::engine::Command;
use crate::engine::{self, routing::Assignment};
use crate::executor::Step;
use crate::router::Core;
use crate::runtime::Executed;
use crate::store::{AgentProfile, AgentRecord, AgentRef, HandoffState, QueuedHandoff, StoreError};
use tandem_model::ConversationId;
use tracing::{debug, warn};

pub use crate::engine::handoff::{DEFAULT_QUEUE, queue_of};

impl Core {
    /// A turn that opened handoff `h` on `conversation` committed: start its SLA clock
    /// and route it.
    pub(crate) async fn handoff_opened(&self, conversation: &ConversationId, h: &HandoffState) {
        self.schedule_sla(conversation.clone(), h.id.clone(), h.priority.as_deref())
            .await;
        if let Err(error) = self.route(conversation, h).await {
            warn!(%error, "Routing a new handoff failed; it waits at the desk.");
        }
    }

    /// Gives `h` to an agent of its queue, or puts it in the queue.
    pub(crate) async fn route(
        &self,
        conversation: &ConversationId,
        h: &HandoffState,
    ) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let queue = queue_of(h);
        if let Some(agent) = store.claim_agent(queue, &h.id, now).await? {
            let assignment = Command::Assignment {
                conversation: conversation.clone(),
                handoff_id: h.id.clone(),
                agent,
            };
            // Boxed: assigning is a change of its own, which may route again.
            let assigned = Box::pin(self.execute(assignment)).await?;
            if !matches!(assigned, Executed::Assigned(true)) {
                store.release_agent(&h.id, now).await?;
            }
            return Ok(());
        }
        store
            .enqueue_handoff(&QueuedHandoff {
                handoff_id: h.id.clone(),
                conversation_id: conversation.clone(),
                queue: queue.to_owned(),
                priority: h.priority.clone().unwrap_or_else(|| "medium".into()),
                queued_at: now,
            })
            .await?;
        debug!(
            queue,
            "Handoff queued: no agent with the skill and spare capacity."
        );
        Ok(())
    }

    /// Records that `agent` was assigned handoff `handoff_id` and tells the desk. `false`
    /// when the handoff is no longer waiting (accepted, closed, replaced): the caller
    /// releases the claim.
    pub(crate) async fn assign(
        &self,
        conversation: &ConversationId,
        handoff_id: &str,
        agent: &AgentRecord,
    ) -> Result<bool, StoreError> {
        let store = &self.inner.store;
        let agent_ref = AgentRef {
            id: agent.profile.id.clone(),
            name: agent.profile.name.clone(),
        };
        let decide = |conv| async {
            let now = self.inner.clock.now();
            // Answers whether the agent has the handoff, and the queue when assigned now.
            Ok(
                match engine::routing::assign(conv, handoff_id, &agent_ref, now) {
                    Assignment::Now(turn, queue) => Step::Commit(turn, (true, Some(queue))),
                    Assignment::Already => Step::Done((true, None)),
                    Assignment::Gone => Step::Done((false, None)),
                },
            )
        };
        let applied = self
            .apply(
                "assigning a handoff",
                || store.conversation(conversation),
                decide,
            )
            .await?;
        let Some((has_it, assigned_in)) = applied else {
            return Ok(false);
        };
        if let Some(queue) = assigned_in {
            self.inner.metrics.assignment(&queue);
            debug!(%queue, "Handoff assigned to an agent.");
        }
        Ok(has_it)
    }

    /// Gives waiting handoffs, in queue order (priority, then age), to agents who can
    /// take them. Returns how many were assigned. Runs whenever capacity may have freed.
    pub async fn dispatch_queue(&self) -> Result<usize, StoreError> {
        let _serial = self.inner.dispatch_lock.lock().await;
        let store = &self.inner.store;
        let mut assigned = 0;
        let agents = store.agents().await?;
        for q in store.queued_handoffs().await? {
            // Skip the store round trip when nobody could take this queue anyway.
            if !agents.iter().any(|a| a.profile.skills.contains(&q.queue)) {
                continue;
            }
            let now = self.inner.clock.now();
            let Some(agent) = store.claim_agent(&q.queue, &q.handoff_id, now).await? else {
                continue;
            };
            store.dequeue_handoff(&q.handoff_id).await?;
            let assignment = Command::Assignment {
                conversation: q.conversation_id.clone(),
                handoff_id: q.handoff_id.clone(),
                agent,
            };
            if matches!(self.execute(assignment).await?, Executed::Assigned(true)) {
                assigned += 1;
            } else {
                store.release_agent(&q.handoff_id, now).await?;
            }
        }
        Ok(assigned)
    }

    /// Dispatches the queue in the background (after a change that may free capacity).
    pub(crate) fn dispatch_later(&self) {
        let core = self.clone();
        tokio::spawn(async move {
            if let Err(error) = core.dispatch_queue().await {
                warn!(%error, "Dispatching queued handoffs failed.");
            }
        });
    }

    /// A handoff closed (resolved, released, timed out): it leaves the queue and its
    /// agent, whose freed capacity goes to the next waiting handoff.
    pub(crate) async fn handoff_finished(&self, handoff_id: &str) {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let dequeued = store.dequeue_handoff(handoff_id).await;
        let released = store.release_agent(handoff_id, now).await;
        match (dequeued, released) {
            (Ok(_), Ok(Some(_))) => self.dispatch_later(),
            (Ok(_), Ok(None)) => {}
            (Err(error), _) | (_, Err(error)) => {
                warn!(%error, "Releasing a closed handoff's agent failed.");
            }
        }
    }

    /// An agent accepted a handoff at the desk: it leaves the queue and the agent holds
    /// it (when routing knows them; otherwise whoever was assigned is released).
    pub(crate) async fn handoff_taken(&self, handoff_id: &str, agent_id: Option<&str>) {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let result = async {
            store.dequeue_handoff(handoff_id).await?;
            let bound = match agent_id {
                Some(id) => store.bind_agent(id, handoff_id, now).await?,
                None => None,
            };
            if bound.is_none() && store.release_agent(handoff_id, now).await?.is_some() {
                self.dispatch_later();
            }
            Ok::<_, StoreError>(())
        }
        .await;
        if let Err(error) = result {
            warn!(%error, "Recording who took a handoff failed.");
        }
    }

    /// Creates or updates an agent (admin API); new capacity goes to waiting handoffs.
    pub async fn put_agent(&self, profile: &AgentProfile) -> Result<AgentRecord, StoreError> {
        let now = self.inner.clock.now();
        let record = self.inner.store.put_agent(profile, now).await?;
        self.dispatch_later();
        Ok(record)
    }

    /// Deletes an agent (admin API). Handoffs they were assigned but had not accepted go
    /// back to their queue; accepted ones stay with the agent at the desk.
    pub async fn remove_agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        let store = &self.inner.store;
        let Some(removed) = store.delete_agent(id).await? else {
            return Ok(None);
        };
        for handoff_id in &removed.active {
            let Some(conversation) = self.conversation_of_handoff(handoff_id).await? else {
                continue;
            };
            let Some(conv) = store.conversation(&conversation).await? else {
                continue;
            };
            if let Some(h) = conv
                .state
                .handoff
                .as_ref()
                .filter(|h| &h.id == handoff_id && engine::routing::waiting(h))
            {
                store
                    .enqueue_handoff(&QueuedHandoff {
                        handoff_id: h.id.clone(),
                        conversation_id: conversation.clone(),
                        queue: queue_of(h).to_owned(),
                        priority: h.priority.clone().unwrap_or_else(|| "medium".into()),
                        queued_at: self.inner.clock.now(),
                    })
                    .await?;
            }
        }
        self.dispatch_later();
        Ok(Some(removed))
    }
}
