//! One owner per handoff: who may act on a handoff at a desk.
//!
//! Once an agent accepted a handoff (explicitly, or by replying first), only that agent
//! may reply, accept again, resolve, release or transfer it. A supervisor (the core's
//! `supervisors` list, `[handoff] supervisors` in the config) may act on any handoff, and
//! the desk itself (an event that names no agent, authenticated by the desk's signature)
//! too. Everyone else is refused, and the desk shows the refusal to them; nothing of a
//! refused action reaches the customer. The same check runs when a desk submits an event
//! (so the desk can answer at once) and again when the recorded event is applied (so two
//! agents racing on a queued handoff still end with one owner).
//!
//! A handoff that is waiting (requested, queued, or assigned by routing but not accepted)
//! has no owner: the first agent who accepts or replies takes it.

use crate::records::{ConversationRecord, HandoffState, HandoffStatus, Owner, Turn};
use tandem_model::Timestamp;
use tandem_sdk::DeskRefusal;
use tandem_sdk::handoff::Agent;

/// Whether `actor` (the agent id an event names; `None` for the desk itself) may act on
/// `handoff`. `supervisors` are agent ids allowed to act on every handoff.
pub(crate) fn authorize(
    handoff: &HandoffState,
    actor: Option<&str>,
    supervisors: &[String],
) -> Result<(), DeskRefusal> {
    let Some(actor) = actor else {
        return Ok(());
    };
    if supervisors.iter().any(|s| s == actor) {
        return Ok(());
    }
    match (&handoff.status, &handoff.agent) {
        (HandoffStatus::Accepted, Some(owner)) if owner.id != actor => {
            let who = owner.name.as_deref().unwrap_or(&owner.id);
            Err(DeskRefusal {
                code: "not_owner".into(),
                message: format!(
                    "{who} is handling this conversation. Only {who} or a supervisor can \
                     reply, resolve, release or transfer it; ask {who} to transfer it to you."
                ),
                owner: Some(Agent {
                    id: owner.id.clone(),
                    name: owner.name.clone(),
                }),
            })
        }
        _ => Ok(()),
    }
}

/// An admin gives a conversation a person was answering outside Tandem (owner
/// `external`) back to the bot; `None` when it is not `external`.
pub fn release_external(mut next: ConversationRecord, now: Timestamp) -> Option<Turn> {
    if next.state.owner != Owner::External {
        return None;
    }
    next.state.owner = Owner::Bot;
    next.state.external_at_ms = None;
    next.updated_at = now;
    Some(Turn::of(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AgentRef;

    fn handoff(status: HandoffStatus, owner: Option<&str>) -> HandoffState {
        HandoffState {
            id: "ho_1".into(),
            desk: "webhook".into(),
            status,
            category: None,
            priority: None,
            target: None,
            agent: owner.map(|id| AgentRef {
                id: id.into(),
                name: Some(format!("Agent {id}")),
            }),
            transitions: vec![],
            csat: None,
            sla_breached_at_ms: None,
            assignee: None,
            routing: vec![],
        }
    }

    #[test]
    fn only_the_owner_acts_on_an_accepted_handoff() {
        let h = handoff(HandoffStatus::Accepted, Some("a"));
        assert!(authorize(&h, Some("a"), &[]).is_ok());
        let refused = authorize(&h, Some("b"), &[]).unwrap_err();
        assert_eq!(refused.code, "not_owner");
        assert_eq!(refused.owner.unwrap().id, "a");
        assert!(refused.message.contains("Agent a"), "{}", refused.message);
    }

    #[test]
    fn supervisors_and_the_desk_itself_may_act() {
        let h = handoff(HandoffStatus::Accepted, Some("a"));
        assert!(authorize(&h, Some("boss"), &["boss".into()]).is_ok());
        assert!(authorize(&h, None, &[]).is_ok());
    }

    #[test]
    fn a_waiting_handoff_has_no_owner_yet() {
        for status in [HandoffStatus::Requested, HandoffStatus::Queued] {
            assert!(authorize(&handoff(status, None), Some("b"), &[]).is_ok());
        }
    }
}
