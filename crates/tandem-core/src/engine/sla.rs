//! SLA decisions: when a waiting handoff's SLA has run out, and what its breach does.

use crate::config::{SlaBreach, SlaConfig};
use crate::engine::Reach;
use crate::engine::handoff::{self, ms, queue_of, reply_entry, return_to_bot, transition};
use crate::records::{ConversationRecord, HandoffState, HandoffStatus, Owner, Turn};
use crate::shape::outbox_entries;
use std::time::Duration;
use tandem_model::{OutboundContent, Party, Timestamp};
use tandem_sdk::DeskOp;

/// How early (ms) a timer may look at a handoff and still count its SLA as run out
/// (timestamps are kept in milliseconds; timers never fire early).
const TIMER_SLACK_MS: i64 = 5;

/// What the customer hears when no agent was available in time and the bot takes over.
pub const NO_AGENT_NOTICE: &str = "Sorry, no one from our team is available right now. I'm back to help, and you can ask for a person again any time.";

impl SlaConfig {
    /// The SLA of a priority (`medium`'s when unknown).
    pub fn for_priority(&self, priority: Option<&str>) -> Option<Duration> {
        self.by_priority
            .get(priority.unwrap_or("medium"))
            .or_else(|| self.by_priority.get("medium"))
            .copied()
    }
}

/// When `h`'s SLA runs out, unix ms: its priority's SLA after it was opened or last
/// re-routed. `None` without an SLA for its priority.
pub fn due_ms(config: &SlaConfig, h: &HandoffState) -> Option<i64> {
    let sla = config.for_priority(h.priority.as_deref())?;
    let since = h
        .routing
        .iter()
        .rev()
        .find(|r| r.change == "rerouted")
        .map(|r| r.at_ms)
        .or_else(|| h.transitions.first().map(|t| t.at_ms))?;
    Some(since.saturating_add(i64::try_from(sla.as_millis()).unwrap_or(i64::MAX)))
}

/// What the runtime gathers for [`breach`].
#[derive(Debug, Clone, Copy)]
pub struct BreachFacts<'a> {
    /// The SLA settings.
    pub config: &'a SlaConfig,
    /// Where the notice to the customer goes.
    pub reach: &'a Reach,
}

/// What a breached SLA does (the breach is recorded on the handoff in every case).
// Short-lived (one per breach, moved straight into a commit): boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Breach {
    /// The handoff keeps waiting (`alert`, or `reroute` for a queue without overflow).
    Alert(Turn),
    /// The handoff timed out: `handoff.closed` to the desk, the bot takes over and tells
    /// the customer.
    ReturnToBot(Turn),
    /// The handoff moves from queue `from` to its overflow queue `to`; the runtime adds
    /// the desk operations (a new briefing when another desk serves `to`) and puts
    /// `handoff` back into `next`.
    Reroute {
        /// The conversation, without its handoff.
        next: ConversationRecord,
        /// The handoff, breached, not yet moved.
        handoff: HandoffState,
        /// Its queue.
        from: String,
        /// The overflow queue.
        to: String,
    },
}

/// The SLA timer of handoff `handoff_id` fired: `None` when it is not breached (no
/// longer waiting, already breached, or not yet due: a stale timer), else its priority
/// and what the breach does.
pub fn breach(
    conv: ConversationRecord,
    handoff_id: &str,
    facts: &BreachFacts<'_>,
    now: Timestamp,
) -> Option<(String, Breach)> {
    let waiting = conv.state.handoff.as_ref().is_some_and(|h| {
        h.id == handoff_id
            && matches!(h.status, HandoffStatus::Requested | HandoffStatus::Queued)
            && h.sla_breached_at_ms.is_none()
            && due_ms(facts.config, h).is_some_and(|due| due <= ms(now) + TIMER_SLACK_MS)
    });
    if !waiting {
        return None;
    }
    let mut next = conv;
    next.updated_at = now;
    let mut h = next.state.handoff.take()?;
    h.sla_breached_at_ms = Some(ms(now));
    let priority = h.priority.clone().unwrap_or_else(|| "medium".into());
    let overflow = facts.config.overflow.get(queue_of(&h)).cloned();
    let breach = match (facts.config.on_breach, overflow) {
        (SlaBreach::Reroute, Some(to)) => Breach::Reroute {
            from: queue_of(&h).to_owned(),
            to,
            handoff: h,
            next,
        },
        (SlaBreach::Alert | SlaBreach::Reroute, _) => {
            next.state.handoff = Some(h);
            Breach::Alert(Turn::of(next))
        }
        (SlaBreach::ReturnToBot, _) => {
            transition(&mut h, HandoffStatus::TimedOut, "system", now);
            let mut outbox = vec![handoff::desk_entry(
                &next,
                &h.desk,
                DeskOp::Close(handoff::closed(&h, &next)),
                now,
            )];
            return_to_bot(&mut next.state);
            next.state.archive_handoff(h);
            let notice = OutboundContent::text(NO_AGENT_NOTICE);
            let entry = reply_entry(&next, Party::Bot, &notice, now);
            next.next_seq += 1;
            if let Some(r) = &facts.reach.recipient {
                let caps = facts.reach.caps.as_ref();
                outbox.extend(outbox_entries(&entry, r, &notice, caps, now));
            }
            debug_assert!(next.state.owner != Owner::Agent);
            Breach::ReturnToBot(Turn {
                entries: vec![entry],
                outbox,
                ..Turn::of(next)
            })
        }
    };
    Some((priority, breach))
}
