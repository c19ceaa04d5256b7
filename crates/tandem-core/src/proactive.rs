//! Work the core starts without a new customer message: the inactivity check-in (the
//! customer went quiet after a bot reply) and business events (a customer at risk is
//! handed off before they write). Both ask the policy, and both respect the owner: while
//! a human owns the conversation nothing is sent.
//!
//! Inactivity timers are durable ([`crate::timers`]): a check-in pending at a restart
//! fires at its due time afterwards, once. The timer is stored right after the turn that
//! made the bot speak last; a crash between that commit and the timer's write forgets
//! that one check-in (a courtesy, not a delivery: nothing acknowledged is lost).

use crate::engine::handoff::system_entry;
use crate::engine::{self, proactive::Silence};
use crate::executor::Step;
use crate::policy::{BusinessEvent, Decision, EventsInput};
use crate::router::Core;
use crate::store::{AiAuditRecord, ConversationRecord, EscalationEvent, StoreError, Turn};
use crate::turn;
use tandem_model::{ConversationId, CustomerId, OutboundContent};
use tracing::warn;

pub use crate::engine::proactive::CHECK_IN;

/// How far back business events count.
const EVENT_WINDOW_DAYS: i64 = 30;

impl Core {
    /// After a turn whose last reply was the bot's: look again once the policy's silence
    /// delay has passed.
    /// The inactivity check-in timer of a conversation the bot just answered, for the
    /// turn to schedule with its commit (`None` when check-ins are off).
    pub(crate) fn inactivity_timer(
        &self,
        conversation: &ConversationId,
        next_seq: u64,
    ) -> Option<crate::store::NewTimer> {
        let after = self.policy().inactivity_after()?;
        let timer = crate::timers::Timer::Inactivity {
            conversation_id: conversation.clone(),
            next_seq,
        };
        match timer.to_new(self.inner.clock.now() + after) {
            Ok(t) => Some(t),
            Err(error) => {
                warn!(%error, "Encoding the inactivity check-in failed.");
                None
            }
        }
    }

    pub(crate) async fn check_inactivity(
        &self,
        id: &ConversationId,
        expected_next_seq: u64,
    ) -> Result<(), StoreError> {
        let store = &self.inner.store;
        let decide = |conv: ConversationRecord| async move {
            if !engine::proactive::idle(&conv, expected_next_seq) {
                return Ok(Step::Done(()));
            }
            let Some(customer) = store.customer(&conv.customer_id).await? else {
                return Ok(Step::Done(()));
            };
            let now = self.inner.clock.now();
            let policy = self.policy();
            let silence = engine::proactive::silence(&*policy, &conv, &customer, now);
            let mut next = conv.clone();
            next.updated_at = now;
            next.state.checked_in = true;
            let mut replies = Vec::new();
            let mut desk_op = None;
            let mut ai_audit = Vec::new();
            let decision = match silence {
                Silence::Nothing => return Ok(Step::Done(())),
                Silence::CheckIn(decision) => {
                    replies.push(OutboundContent::text(CHECK_IN));
                    decision
                }
                Silence::Handoff(decision) => {
                    let note = system_entry(&conv, "The customer went silent.", now);
                    desk_op = self
                        .start_handoff(&mut next, &customer, &decision, &note, now, &mut ai_audit)
                        .await;
                    if desk_op.is_some() {
                        replies.push(OutboundContent::text(turn::HANDOFF_NOTICE));
                    }
                    decision
                }
            };
            let escalations =
                vec![decision.record(&conv.id, &customer.id, conv.next_seq, policy.version(), now)];
            let turn = self
                .proactive_turn(next, replies, desk_op, escalations, ai_audit)
                .await?;
            Ok(Step::Commit(turn, ()))
        };
        self.apply("checking in", || store.conversation(id), decide)
            .await
            .map(|_| ())
    }

    /// Business events arrived for a customer: asks the policy and, when it says so,
    /// hands the customer's conversation to a person before they write. Returns the
    /// decision (for the admin API's answer).
    pub async fn on_customer_event(
        &self,
        customer_id: &CustomerId,
    ) -> Result<Decision, StoreError> {
        let store = &self.inner.store;
        let Some(customer) = store.customer(customer_id).await? else {
            return Ok(Decision::default());
        };
        let now = self.inner.clock.now();
        let events: Vec<BusinessEvent> = store
            .customer_events(customer_id, now - time::Duration::days(EVENT_WINDOW_DAYS))
            .await?
            .into_iter()
            .map(|e| BusinessEvent {
                kind: e.name,
                at: e.at,
            })
            .collect();
        let policy = self.policy();
        let decision = policy.evaluate_events(&EventsInput {
            customer: &customer,
            events: &events,
            now,
        });
        if !decision.escalate {
            return Ok(decision);
        }
        // The conversation continues where the customer last wrote.
        let channel = match store
            .conversations_of(customer_id, 1)
            .await?
            .into_iter()
            .next()
        {
            Some(c) => c.channel,
            None => match store.identities(customer_id).await?.into_iter().next() {
                Some(i) => i.channel,
                None => return Ok(decision),
            },
        };
        let (customer, decision, policy, channel) = (&customer, &decision, &policy, &channel);
        let decide = |conv: ConversationRecord| async move {
            if !engine::proactive::bot_owns(&conv) {
                // A person is already on it.
                return Ok(Step::Done(()));
            }
            let mut next = conv.clone();
            next.updated_at = now;
            let escalations =
                vec![decision.record(&conv.id, &customer.id, conv.next_seq, policy.version(), now)];
            let evidence: Vec<&str> = decision
                .reasons
                .iter()
                .map(|r| r.evidence.as_str())
                .collect();
            let note = system_entry(
                &conv,
                &format!("Business events: {}", evidence.join("; ")),
                now,
            );
            let mut ai_audit = Vec::new();
            let desk_op = self
                .start_handoff(&mut next, customer, decision, &note, now, &mut ai_audit)
                .await;
            if desk_op.is_none() {
                next.state.handoff_requested = true;
            }
            // The customer has not written: nothing is sent to them; the desk gets the briefing.
            let turn = self
                .proactive_turn(next, Vec::new(), desk_op, escalations, ai_audit)
                .await?;
            Ok(Step::Commit(turn, ()))
        };
        self.apply(
            "a business event",
            || async move {
                store
                    .open_conversation(customer_id, channel, now)
                    .await
                    .map(Some)
            },
            decide,
        )
        .await?;
        Ok(decision.clone())
    }

    /// A turn with System replies to the customer and an optional desk operation.
    async fn proactive_turn(
        &self,
        next: ConversationRecord,
        replies: Vec<OutboundContent>,
        desk_op: Option<(String, tandem_sdk::DeskOp)>,
        escalations: Vec<EscalationEvent>,
        ai_audit: Vec<AiAuditRecord>,
    ) -> Result<Turn, StoreError> {
        let reach = self.reach(&next).await?;
        let turn = engine::proactive::turn(next, &reach, replies, desk_op);
        Ok(Turn {
            escalations,
            ai_audit,
            ..turn
        })
    }
}
