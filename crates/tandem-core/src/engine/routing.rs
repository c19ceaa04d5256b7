//! Routing decisions: giving a waiting handoff to an agent.

use crate::engine::handoff::{self, ms, queue_of};
use crate::records::{
    AgentRef, ConversationRecord, HandoffState, HandoffStatus, RoutingStep, Turn,
};
use tandem_model::Timestamp;
use tandem_sdk::DeskOp;

/// Whether a handoff waits for an agent (requested or queued, not yet accepted).
pub fn waiting(h: &HandoffState) -> bool {
    matches!(h.status, HandoffStatus::Requested | HandoffStatus::Queued)
}

/// What assigning a handoff to an agent comes to.
// Short-lived (one per assignment, moved straight into a commit): boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Assignment {
    /// The handoff is no longer waiting (accepted, closed, replaced).
    Gone,
    /// The agent already has it.
    Already,
    /// Assigned now, in this queue: commit the turn (the handoff's new assignee and
    /// routing step, `handoff.updated` to its desk).
    Now(Turn, String),
}

/// Assigns waiting handoff `handoff_id` of `conv` to `agent` (whom routing claimed).
pub fn assign(
    conv: ConversationRecord,
    handoff_id: &str,
    agent: &AgentRef,
    now: Timestamp,
) -> Assignment {
    let Some(h) = conv
        .state
        .handoff
        .as_ref()
        .filter(|h| h.id == handoff_id && waiting(h))
    else {
        return Assignment::Gone;
    };
    if h.assignee.as_ref() == Some(agent) {
        return Assignment::Already;
    }
    let mut h = h.clone();
    let mut next = conv;
    next.updated_at = now;
    let queue = queue_of(&h).to_owned();
    h.assignee = Some(agent.clone());
    h.routing.push(RoutingStep {
        change: "assigned".into(),
        queue: queue.clone(),
        from: None,
        agent: Some(agent.clone()),
        at_ms: ms(now),
    });
    let op = DeskOp::Update(handoff::updated(&h, &next, "assigned", now));
    let desk = h.desk.clone();
    next.state.handoff = Some(h);
    let entry = handoff::desk_entry(&next, &desk, op, now);
    let mut turn = Turn::of(next);
    turn.outbox.push(entry);
    Assignment::Now(turn, queue)
}
