//! Handoff SLAs: a handoff nobody accepts within its priority's time is a breach. The
//! breach is recorded on the handoff, counted in `/metrics` and logged; with
//! `ReturnToBot` the handoff times out instead and the bot takes the conversation back
//! (the desk gets `handoff.closed` with reason `timed_out`).
//!
//! Timers live in memory: a restart forgets pending SLA checks (nothing acknowledged is
//! lost; the handoff stays queued at the desk).

use crate::handoff::{self, ms, transition};
use crate::router::Core;
use crate::store::{HandoffStatus, Owner, StoreError, Turn};
use crate::turn;
use std::collections::BTreeMap;
use std::time::Duration;
use tandem_model::{ConversationId, OutboundContent, Party};
use tandem_sdk::DeskOp;
use tracing::warn;

/// What the customer hears when no agent was available in time and the bot takes over.
pub const NO_AGENT_NOTICE: &str = "Sorry, no one from our team is available right now. I'm back to help, and you can ask for a person again any time.";

/// What to do when a handoff outlives its SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlaBreach {
    /// Record and alert (metrics, WARN log); the handoff stays queued.
    #[default]
    Alert,
    /// Time the handoff out and give the conversation back to the bot.
    ReturnToBot,
}

/// SLA settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaConfig {
    /// Time to acceptance per priority (`immediate`, `high`, `medium`, `low`).
    pub by_priority: BTreeMap<String, Duration>,
    /// What a breach does.
    pub on_breach: SlaBreach,
}

impl Default for SlaConfig {
    fn default() -> Self {
        let by_priority = [
            ("immediate", 30),
            ("high", 120),
            ("medium", 300),
            ("low", 900),
        ]
        .into_iter()
        .map(|(p, s)| (p.to_owned(), Duration::from_secs(s)))
        .collect();
        Self {
            by_priority,
            on_breach: SlaBreach::Alert,
        }
    }
}

impl SlaConfig {
    /// The SLA of a priority (`medium`'s when unknown).
    pub fn for_priority(&self, priority: Option<&str>) -> Option<Duration> {
        self.by_priority
            .get(priority.unwrap_or("medium"))
            .or_else(|| self.by_priority.get("medium"))
            .copied()
    }
}

impl Core {
    /// Looks at a new handoff again once its SLA has passed.
    pub(crate) fn schedule_sla(
        &self,
        conversation: ConversationId,
        handoff_id: String,
        priority: Option<&str>,
    ) {
        let Some(after) = self.inner.config.sla.for_priority(priority) else {
            return;
        };
        let core = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if let Err(error) = core.check_sla(&conversation, &handoff_id).await {
                warn!(%error, "Handoff SLA check failed.");
            }
        });
    }

    async fn check_sla(&self, id: &ConversationId, handoff_id: &str) -> Result<(), StoreError> {
        let store = &self.inner.store;
        for _ in 0..5 {
            let Some(conv) = store.conversation(id).await? else {
                return Ok(());
            };
            let waiting = conv.state.handoff.as_ref().is_some_and(|h| {
                h.id == handoff_id
                    && matches!(h.status, HandoffStatus::Requested | HandoffStatus::Queued)
                    && h.sla_breached_at_ms.is_none()
            });
            if !waiting {
                return Ok(());
            }
            let now = self.inner.clock.now();
            let mut next = conv.clone();
            next.updated_at = now;
            let mut outbox = Vec::new();
            let mut entries = Vec::new();
            let Some(mut h) = next.state.handoff.take() else {
                return Ok(());
            };
            h.sla_breached_at_ms = Some(ms(now));
            let priority = h.priority.clone().unwrap_or_else(|| "medium".into());
            match self.inner.config.sla.on_breach {
                SlaBreach::Alert => {
                    next.state.handoff = Some(h);
                }
                SlaBreach::ReturnToBot => {
                    transition(&mut h, HandoffStatus::TimedOut, "system", now);
                    outbox.push(handoff::desk_entry(
                        &next,
                        &h.desk,
                        DeskOp::Close(handoff::closed(&h, &next)),
                        now,
                    ));
                    crate::desks::return_to_bot(&mut next.state);
                    next.state.past_handoffs.push(h);
                    let recipient = store
                        .identities(&conv.customer_id)
                        .await?
                        .into_iter()
                        .find(|i| i.channel == conv.channel)
                        .map(|i| i.subject);
                    let caps = self
                        .adapter(&conv.channel)
                        .map(|a| a.capabilities().clone());
                    let entry = crate::desks::reply_entry(
                        &next,
                        Party::Bot,
                        &OutboundContent::text(NO_AGENT_NOTICE),
                        now,
                    );
                    next.next_seq += 1;
                    if let Some(r) = &recipient {
                        outbox.extend(turn::outbox_entries(
                            &entry,
                            r,
                            &OutboundContent::text(NO_AGENT_NOTICE),
                            caps.as_ref(),
                            now,
                        ));
                    }
                    entries.push(entry);
                }
            }
            debug_assert!(next.state.owner != Owner::Agent);
            let turn = Turn {
                inbound_seq: None,
                conversation: next,
                entries,
                escalations: vec![],
                outbox,
            };
            match store.commit_turn(turn).await {
                Ok(()) => {
                    self.inner.metrics.sla_breach(&priority);
                    warn!(%priority, "Handoff not accepted within its SLA.");
                    self.inner.outbox_wakeup.notify_one();
                    return Ok(());
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
