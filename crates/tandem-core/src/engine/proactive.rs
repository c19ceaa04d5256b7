//! Decisions the core takes without a new customer message: after a silence (check in,
//! hand off, or nothing) and on business events (hand off before the customer writes).

use crate::engine::Reach;
use crate::engine::handoff::{self, system_entry};
use crate::policy::{Decision, EscalationPolicy, InactivityInput, OfferKind};
use crate::records::{ConversationRecord, ConversationStatus, CustomerRecord, Owner, Turn};
use crate::shape::outbox_entries;
use tandem_model::{OutboundContent, Timestamp};
use tandem_sdk::DeskOp;

/// What the customer hears after a silence.
pub const CHECK_IN: &str =
    "Are you still there? Did that answer your question? Reply here any time.";

/// Whether the customer is still quiet since the bot's reply that set the inactivity
/// timer (`expected_next_seq` was the conversation's next seq then): nothing happened
/// since, the bot still owns the open conversation and has not checked in yet.
pub fn idle(conv: &ConversationRecord, expected_next_seq: u64) -> bool {
    conv.next_seq == expected_next_seq
        && conv.status == ConversationStatus::Open
        && conv.state.owner == Owner::Bot
        && !conv.state.checked_in
}

/// Whether the bot owns the conversation with no handoff: a business event may only
/// hand off such a one (otherwise a person is already on it).
pub fn bot_owns(conv: &ConversationRecord) -> bool {
    conv.state.owner == Owner::Bot && conv.state.handoff.is_none()
}

/// What a silence comes to, with the policy's decision to record.
#[derive(Debug)]
pub enum Silence {
    /// The policy wants neither a check-in nor a handoff.
    Nothing,
    /// Ask the customer whether they are still there.
    CheckIn(Decision),
    /// Hand the conversation to a person.
    Handoff(Decision),
}

/// Asks the policy about an idle conversation ([`idle`]) of `customer`.
pub fn silence(
    policy: &dyn EscalationPolicy,
    conv: &ConversationRecord,
    customer: &CustomerRecord,
    now: Timestamp,
) -> Silence {
    let idle = (now - conv.updated_at).try_into().unwrap_or_default();
    let decision = policy.evaluate_inactivity(&InactivityInput {
        state: &conv.state,
        customer,
        idle,
        now,
    });
    if decision.escalate {
        Silence::Handoff(decision)
    } else if decision.offers(OfferKind::CheckIn) {
        Silence::CheckIn(decision)
    } else {
        Silence::Nothing
    }
}

/// A turn of `next` (already changed and stamped) with System `replies` to the customer
/// (kept in the transcript, sent where `reach` says) and an optional desk operation.
pub fn turn(
    mut next: ConversationRecord,
    reach: &Reach,
    replies: Vec<OutboundContent>,
    desk_op: Option<(String, DeskOp)>,
) -> Turn {
    let now = next.updated_at;
    let mut entries = Vec::new();
    let mut outbox = Vec::new();
    for content in replies {
        let entry = system_entry(&next, &content.text, now);
        next.next_seq += 1;
        if let Some(r) = &reach.recipient {
            outbox.extend(outbox_entries(
                &entry,
                r,
                &content,
                reach.caps.as_ref(),
                now,
            ));
        }
        entries.push(entry);
    }
    if let Some((desk, op)) = desk_op {
        outbox.push(handoff::desk_entry(&next, &desk, op, now));
    }
    Turn {
        entries,
        outbox,
        ..Turn::of(next)
    }
}
