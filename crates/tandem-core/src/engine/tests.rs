//! The engine's decisions, one section per [`Command`](super::Command) kind. No store,
//! no runtime, no clock: every test builds the records it needs and passes `now`.

use super::desk::{AGENT_JOINED, BOT_IS_BACK, DeskEventDoc, DeskFacts};
use super::handoff::{self, desk_of};
use super::proactive::{CHECK_IN, Silence};
use super::routing::Assignment;
use super::sla::{Breach, BreachFacts, NO_AGENT_NOTICE};
use super::{
    AdminAction, Command, Reach, Timer, delivery, desk, message, ownership, proactive, routing, sla,
};
use crate::config::{SlaBreach, SlaConfig};
use crate::intent::{Understanding, UnderstandingTrace};
use crate::policy::{
    Decision, EscalationPolicy, EventsInput, InactivityInput, Offer, OfferKind, PolicyInput,
};
use crate::records::{
    AgentRef, ConversationRecord, ConversationState, ConversationStatus, CustomerRecord,
    HandoffState, HandoffStatus, Owner, PendingInbound, Reason, Turn,
};
use std::collections::BTreeMap;
use std::time::Duration;
use tandem_model::{
    Capabilities, ChannelId, Content, ConversationId, CustomerId, ExternalIdentity, InboundMessage,
    OutboundContent, OutboundMessage, OutboxId, Party, PlatformMessageId, TemplateMessage,
    Timestamp,
};
use tandem_sdk::bot::BotAnswer;

// ---- fixtures --------------------------------------------------------------------------

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_timestamp(1_800_000_000 + secs).expect("a valid time")
}

fn conversation(owner: Owner) -> ConversationRecord {
    ConversationRecord {
        id: ConversationId::new("conv_1"),
        customer_id: CustomerId::new("cus_1"),
        channel: ChannelId::new("whatsapp"),
        status: ConversationStatus::Open,
        state: ConversationState {
            owner,
            ..ConversationState::default()
        },
        next_seq: 4,
        version: 7,
        opened_at: at(0),
        updated_at: at(10),
    }
}

fn customer() -> CustomerRecord {
    CustomerRecord {
        id: CustomerId::new("cus_1"),
        display_name: Some("Ada".into()),
        segment: None,
        attributes: BTreeMap::new(),
        created_at: at(0),
    }
}

/// `conv` handed off to desk `slack` (queue `billing`, priority `high`), in `status`.
fn handed_off(status: HandoffStatus, agent: Option<&str>) -> ConversationRecord {
    let mut conv = conversation(Owner::Queue);
    let decision = Decision {
        escalate: true,
        priority: Some("high".into()),
        target: Some("billing".into()),
        ..Decision::default()
    };
    let mut h = handoff::open("slack", &decision, at(20));
    h.status = status;
    h.agent = agent.map(|id| AgentRef {
        id: id.into(),
        name: Some(format!("Agent {id}")),
    });
    if status == HandoffStatus::Accepted {
        conv.state.owner = Owner::Agent;
    }
    conv.state.handoff = Some(h);
    conv
}

fn handoff_of(conv: &ConversationRecord) -> &HandoffState {
    conv.state.handoff.as_ref().expect("an open handoff")
}

/// The customer is reachable on WhatsApp, whose adapter runs.
fn reach() -> Reach {
    Reach {
        recipient: Some("+15550001".into()),
        caps: Some(caps()),
    }
}

fn caps() -> Capabilities {
    Capabilities::text_only(4096)
}

/// The texts the turn sends to the customer, in order.
fn to_customer(turn: &Turn) -> Vec<String> {
    turn.outbox
        .iter()
        .filter(|e| desk_of(&e.message.channel).is_none())
        .map(|e| e.message.content.text.clone())
        .collect()
}

/// The desk operations the turn queues (`open`, `update`, `close`, ...), in order.
fn desk_ops(turn: &Turn) -> Vec<String> {
    turn.outbox
        .iter()
        .filter(|e| desk_of(&e.message.channel).is_some())
        .map(|e| {
            let doc: serde_json::Value =
                serde_json::from_str(&e.message.content.text).expect("a desk operation");
            doc["op"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

// ---- customer message ------------------------------------------------------------------

/// A policy that escalates on the word "lawyer", offers the button on a fallback, and
/// checks in after a silence (or hands off a VIP).
struct TestPolicy;

impl EscalationPolicy for TestPolicy {
    fn evaluate(&self, input: &PolicyInput<'_>) -> Decision {
        let reason = |code: &str| Reason {
            code: code.into(),
            category: None,
            evidence: input.text.into(),
        };
        if input.text.contains("lawyer") {
            return Decision {
                escalate: true,
                reasons: vec![reason("keyword")],
                ..Decision::default()
            };
        }
        if input.bot.fallback {
            return Decision {
                offers: vec![Offer {
                    kind: OfferKind::HumanButton,
                    reason: reason("bot_failure"),
                }],
                ..Decision::default()
            };
        }
        Decision::default()
    }

    fn version(&self) -> &str {
        "test-1"
    }

    fn evaluate_inactivity(&self, input: &InactivityInput<'_>) -> Decision {
        let reason = Reason {
            code: "silence".into(),
            category: None,
            evidence: format!("{}s", input.idle.as_secs()),
        };
        if input.customer.segment.as_deref() == Some("vip") {
            return Decision {
                escalate: true,
                reasons: vec![reason],
                ..Decision::default()
            };
        }
        if input.idle >= Duration::from_secs(60) {
            return Decision {
                offers: vec![Offer {
                    kind: OfferKind::CheckIn,
                    reason,
                }],
                ..Decision::default()
            };
        }
        Decision::default()
    }

    fn evaluate_events(&self, input: &EventsInput<'_>) -> Decision {
        Decision {
            escalate: input.events.iter().any(|e| e.kind == "churn_risk"),
            ..Decision::default()
        }
    }
}

fn understanding(sentiment: f32, fallback: bool) -> Understanding {
    Understanding {
        sentiment,
        answer: BotAnswer {
            intent: (!fallback).then(|| "refund_status".into()),
            fallback,
            text: "Your refund is on its way.".into(),
            slots: BTreeMap::from([("order".into(), "A-17".into())]),
            ..BotAnswer::default()
        },
        intent: None,
        trace: UnderstandingTrace::default(),
    }
}

fn decide(state: &mut ConversationState, text: &str, u: &Understanding) -> Decision {
    message::decide(
        &TestPolicy,
        state,
        &customer(),
        &ChannelId::new("whatsapp"),
        text,
        u,
        at(30),
    )
}

#[test]
fn customer_message_updates_the_state_and_asks_the_policy() {
    let mut state = ConversationState::default();
    let d = decide(
        &mut state,
        "where is my refund",
        &understanding(-0.6, false),
    );
    assert!(!d.escalate);
    assert_eq!(state.negative_count, 1, "a negative message counts");
    assert_eq!(state.fallback_count, 0);
    assert_eq!(state.last_intent.as_deref(), Some("refund_status"));
    assert_eq!(state.slots.get("order").map(String::as_str), Some("A-17"));
    assert_eq!(state.sentiment_history, vec![-0.6]);

    let d = decide(
        &mut state,
        "I will call my lawyer",
        &understanding(0.0, false),
    );
    assert!(d.escalate, "the policy's keyword hands off");
    assert_eq!(state.negative_count, 1, "a neutral message does not count");
}

#[test]
fn customer_message_fallbacks_count_until_the_bot_understands() {
    let mut state = ConversationState::default();
    let d = decide(&mut state, "blorp", &understanding(0.0, true));
    assert_eq!(state.fallback_count, 1);
    assert!(d.offers(OfferKind::HumanButton));
    assert!(state.human_offered, "the offer of a person is remembered");
    decide(&mut state, "blorp again", &understanding(0.0, true));
    assert_eq!(state.fallback_count, 2);
    decide(&mut state, "where is my refund", &understanding(0.0, false));
    assert_eq!(
        state.fallback_count, 0,
        "an understood message resets the count"
    );
}

#[test]
fn customer_message_keeps_the_newest_ten_sentiments() {
    let mut state = ConversationState::default();
    for i in 0..12 {
        decide(&mut state, "hi", &understanding(i as f32 / 100.0, false));
    }
    assert_eq!(state.sentiment_history.len(), 10);
    assert_eq!(state.sentiment_history[0], 0.02);
}

#[test]
fn customer_message_taps_and_external_owners() {
    let mut state = ConversationState::default();
    state.offered_buttons.push(message::human_button());
    assert!(message::tapped(&state, message::HUMAN_PAYLOAD).is_some());
    assert!(message::tapped(&state, "forged").is_none());

    state.owner = Owner::External;
    state.external_at_ms = Some(handoff::ms(at(0)));
    message::release_external_if_quiet(&mut state, at(60), time::Duration::seconds(120));
    assert_eq!(state.owner, Owner::External, "quiet for 60 s of 120");
    message::release_external_if_quiet(&mut state, at(120), time::Duration::seconds(120));
    assert_eq!(state.owner, Owner::Bot);
}

fn answer<'a>(u: &'a Understanding, d: &'a Decision) -> message::Answer<'a> {
    message::Answer {
        question: "where is my refund",
        understanding: u,
        decision: d,
        handoff_opened: false,
        handoff_requested_before: false,
        drafted: None,
        seq_before: 4,
    }
}

fn texts(replies: &[(Party, OutboundContent)]) -> Vec<(Party, String)> {
    replies.iter().map(|(p, c)| (*p, c.text.clone())).collect()
}

#[test]
fn customer_message_answer_follows_the_decision() {
    let u = understanding(0.0, false);
    let mut state = ConversationState::default();
    let quiet = Decision::default();
    let replies = message::respond(&mut state, &answer(&u, &quiet), at(30));
    assert_eq!(
        texts(&replies),
        vec![(Party::Bot, "Your refund is on its way.".to_owned())]
    );
    assert!(replies[0].1.buttons.is_empty());

    let offer = Decision {
        offers: vec![Offer {
            kind: OfferKind::HumanButton,
            reason: Reason {
                code: "low_confidence".into(),
                category: None,
                evidence: "0.2".into(),
            },
        }],
        ..Decision::default()
    };
    let replies = message::respond(&mut state, &answer(&u, &offer), at(30));
    assert_eq!(replies[0].1.buttons, vec![message::human_button()]);

    let bot_first = Decision {
        offers: vec![Offer {
            kind: OfferKind::BotFirst,
            ..offer.offers[0].clone()
        }],
        ..Decision::default()
    };
    let replies = message::respond(&mut state, &answer(&u, &bot_first), at(30));
    assert_eq!(
        texts(&replies),
        vec![(Party::Bot, message::BOT_FIRST_REPLY.to_owned())]
    );
}

#[test]
fn customer_message_handoff_notice_is_said_once_without_a_desk() {
    let u = understanding(0.0, false);
    let escalate = Decision {
        escalate: true,
        ..Decision::default()
    };
    let mut state = ConversationState::default();
    let opened = message::Answer {
        handoff_opened: true,
        ..answer(&u, &escalate)
    };
    let replies = message::respond(&mut state, &opened, at(30));
    assert_eq!(
        texts(&replies),
        vec![(Party::System, message::HANDOFF_NOTICE.to_owned())]
    );

    let mut state = ConversationState::default();
    let replies = message::respond(&mut state, &answer(&u, &escalate), at(30));
    assert_eq!(
        texts(&replies),
        vec![(Party::System, message::HANDOFF_NOTICE.to_owned())]
    );
    assert!(
        state.handoff_requested,
        "without a desk the request is recorded"
    );
    let again = message::Answer {
        handoff_requested_before: true,
        ..answer(&u, &escalate)
    };
    let replies = message::respond(&mut state, &again, at(31));
    assert_eq!(replies[0].0, Party::Bot, "told once; the bot keeps helping");
}

#[test]
fn customer_message_in_draft_only_mode_becomes_a_draft_not_a_reply() {
    let u = understanding(0.0, false);
    let quiet = Decision::default();
    let mut state = ConversationState::default();
    let drafted = message::Answer {
        drafted: Some(crate::config::Selection::default()),
        ..answer(&u, &quiet)
    };
    assert!(message::respond(&mut state, &drafted, at(30)).is_empty());
    assert_eq!(state.drafts.len(), 1);
    assert_eq!(state.drafts[0].text, "Your refund is on its way.");
    assert_eq!(
        state.drafts[0].question.as_deref(),
        Some("where is my refund")
    );
}

// ---- desk event ------------------------------------------------------------------------

fn desk_event(
    kind: &str,
    agent: Option<&str>,
    text: Option<&str>,
) -> (PendingInbound, DeskEventDoc) {
    let conv = handed_off(HandoffStatus::Queued, None);
    let doc = DeskEventDoc {
        handoff_id: handoff_of(&conv).id.clone(),
        kind: kind.into(),
        text: text.map(Into::into),
        agent_id: agent.map(Into::into),
        ..DeskEventDoc::default()
    };
    let pending = PendingInbound {
        seq: 41,
        message: InboundMessage {
            channel: ChannelId::new("desk:slack"),
            platform_message_id: PlatformMessageId::new("evt_1"),
            sender: ExternalIdentity::new(ChannelId::new("desk:slack"), "slack"),
            sent_at: at(40),
            content: Content::Postback {
                payload: serde_json::to_string(&doc).expect("a desk event"),
                title: None,
            },
        },
        received_at: at(40),
    };
    (pending, doc)
}

fn facts<'a>(supervisors: &'a [String], reach: &'a Reach, window_open: bool) -> DeskFacts<'a> {
    DeskFacts {
        supervisors,
        reach,
        window_open,
    }
}

#[test]
fn desk_event_accept_gives_the_conversation_to_the_agent() {
    let (pending, mut doc) = desk_event("accepted", Some("amy"), None);
    let conv = handed_off(HandoffStatus::Queued, None);
    doc.handoff_id = handoff_of(&conv).id.clone();
    let r = reach();
    let turn = desk::event(&pending, &doc, conv, &facts(&[], &r, true), at(45))
        .expect("an accept changes the conversation");
    assert_eq!(
        turn.inbound_seq,
        Some(41),
        "the event is processed by this turn"
    );
    let next = &turn.conversation;
    assert_eq!(next.state.owner, Owner::Agent);
    let h = handoff_of(next);
    assert_eq!(h.status, HandoffStatus::Accepted);
    assert_eq!(h.agent.as_ref().map(|a| a.id.as_str()), Some("amy"));
    assert_eq!(to_customer(&turn), vec![AGENT_JOINED.to_owned()]);
    assert_eq!(next.next_seq, 5, "the notice took one transcript seq");
}

#[test]
fn desk_event_from_another_agent_on_an_owned_handoff_changes_nothing() {
    let conv = handed_off(HandoffStatus::Accepted, Some("amy"));
    let (pending, mut doc) = desk_event("agent_message", Some("bob"), Some("I'll take it"));
    doc.handoff_id = handoff_of(&conv).id.clone();
    let r = reach();
    assert!(desk::event(&pending, &doc, conv.clone(), &facts(&[], &r, true), at(45)).is_none());
    // A supervisor may.
    let boss = vec!["bob".to_owned()];
    let turn = desk::event(&pending, &doc, conv, &facts(&boss, &r, true), at(45))
        .expect("a supervisor writes into the handoff");
    assert_eq!(to_customer(&turn), vec!["I'll take it".to_owned()]);
    assert_eq!(
        handoff_of(&turn.conversation)
            .agent
            .as_ref()
            .map(|a| a.id.as_str()),
        Some("amy"),
        "a supervisor's message leaves the handoff with its owner"
    );
}

#[test]
fn desk_event_resolve_returns_to_the_bot_with_a_survey_only_in_an_open_window() {
    let conv = handed_off(HandoffStatus::Accepted, Some("amy"));
    let (pending, mut doc) = desk_event("resolved", Some("amy"), None);
    doc.handoff_id = handoff_of(&conv).id.clone();
    let r = reach();
    let open = desk::event(&pending, &doc, conv.clone(), &facts(&[], &r, true), at(50))
        .expect("resolving changes the conversation");
    assert_eq!(open.conversation.state.owner, Owner::Bot);
    assert!(
        open.conversation.state.handoff.is_none(),
        "the handoff is archived"
    );
    let sent = to_customer(&open);
    assert_eq!(sent.len(), 2, "back-to-bot notice and survey: {sent:?}");
    assert_eq!(sent[0], BOT_IS_BACK);
    assert!(
        open.conversation.state.csat_pending.is_some(),
        "the survey waits for an answer"
    );

    let closed = desk::event(&pending, &doc, conv, &facts(&[], &r, false), at(50))
        .expect("resolving changes the conversation");
    assert_eq!(to_customer(&closed), vec![BOT_IS_BACK.to_owned()]);
    assert!(
        closed.conversation.state.csat_pending.is_none(),
        "no survey into a closed window"
    );
}

#[test]
fn desk_event_transfer_to_a_queue_requeues_and_tells_the_desk() {
    let conv = handed_off(HandoffStatus::Accepted, Some("amy"));
    let (pending, mut doc) = desk_event("transferred", Some("amy"), None);
    doc.handoff_id = handoff_of(&conv).id.clone();
    doc.to_queue = Some("retention".into());
    let r = reach();
    let turn = desk::event(&pending, &doc, conv, &facts(&[], &r, true), at(55))
        .expect("a transfer changes the conversation");
    let h = handoff_of(&turn.conversation);
    assert_eq!(h.status, HandoffStatus::Queued);
    assert_eq!(h.target.as_deref(), Some("retention"));
    assert!(h.agent.is_none());
    assert_eq!(turn.conversation.state.owner, Owner::Queue);
    assert_eq!(desk_ops(&turn), vec!["update".to_owned()]);
    assert!(to_customer(&turn).is_empty());
}

#[test]
fn desk_event_without_a_recipient_is_recorded_but_sends_nothing() {
    let conv = handed_off(HandoffStatus::Queued, None);
    let (pending, mut doc) = desk_event("agent_message", Some("amy"), Some("Hello!"));
    doc.handoff_id = handoff_of(&conv).id.clone();
    let r = Reach {
        recipient: None,
        caps: Some(caps()),
    };
    let turn = desk::event(&pending, &doc, conv, &facts(&[], &r, true), at(45))
        .expect("the reply is kept in the transcript");
    assert_eq!(turn.entries.len(), 1);
    assert_eq!(turn.entries[0].from, Party::Agent);
    assert!(turn.outbox.is_empty());
}

// ---- desk delivery result --------------------------------------------------------------

#[test]
fn desk_delivery_result_queues_a_requested_handoff_once() {
    let conv = handed_off(HandoffStatus::Requested, None);
    let id = handoff_of(&conv).id.clone();
    let turn = desk::opened(conv, &id, at(21)).expect("the desk has the thread");
    let h = handoff_of(&turn.conversation);
    assert_eq!(h.status, HandoffStatus::Queued);
    assert_eq!(
        h.transitions.last().map(|t| t.actor.as_str()),
        Some("desk:slack")
    );
    assert!(
        desk::opened(turn.conversation.clone(), &id, at(22)).is_none(),
        "a second confirmation changes nothing"
    );
    assert!(desk::opened(turn.conversation, "ho_other", at(22)).is_none());
}

// ---- timer due -------------------------------------------------------------------------

fn sla_config(on_breach: SlaBreach) -> SlaConfig {
    SlaConfig {
        by_priority: BTreeMap::from([("high".into(), Duration::from_secs(60))]),
        on_breach,
        overflow: BTreeMap::from([("billing".into(), "billing-overflow".into())]),
    }
}

#[test]
fn timer_due_sla_is_not_breached_early_or_twice() {
    let conv = handed_off(HandoffStatus::Queued, None);
    let id = handoff_of(&conv).id.clone();
    let config = sla_config(SlaBreach::Alert);
    let r = reach();
    let facts = BreachFacts {
        config: &config,
        reach: &r,
    };
    // Opened at 20 s with a 60 s SLA: due at 80 s.
    assert_eq!(
        sla::due_ms(&config, handoff_of(&conv)),
        Some(handoff::ms(at(80)))
    );
    assert!(
        sla::breach(conv.clone(), &id, &facts, at(79)).is_none(),
        "not yet due"
    );
    let (priority, breach) = sla::breach(conv, &id, &facts, at(80)).expect("due");
    assert_eq!(priority, "high");
    let Breach::Alert(turn) = breach else {
        panic!("alert expected, got {breach:?}")
    };
    assert!(handoff_of(&turn.conversation).sla_breached_at_ms.is_some());
    assert_eq!(
        handoff_of(&turn.conversation).status,
        HandoffStatus::Queued,
        "still waiting"
    );
    assert!(
        sla::breach(turn.conversation, &id, &facts, at(200)).is_none(),
        "a breach is recorded once"
    );
}

#[test]
fn timer_due_sla_returns_to_the_bot_or_reroutes() {
    let conv = handed_off(HandoffStatus::Queued, None);
    let id = handoff_of(&conv).id.clone();
    let r = reach();
    let back = sla_config(SlaBreach::ReturnToBot);
    let facts = BreachFacts {
        config: &back,
        reach: &r,
    };
    let Some((_, Breach::ReturnToBot(turn))) = sla::breach(conv.clone(), &id, &facts, at(90))
    else {
        panic!("return to bot expected")
    };
    assert_eq!(turn.conversation.state.owner, Owner::Bot);
    let archived = turn
        .conversation
        .state
        .past_handoffs
        .last()
        .expect("archived");
    assert_eq!(archived.status, HandoffStatus::TimedOut);
    assert_eq!(desk_ops(&turn), vec!["close".to_owned()]);
    assert_eq!(to_customer(&turn), vec![NO_AGENT_NOTICE.to_owned()]);

    let reroute = sla_config(SlaBreach::Reroute);
    let facts = BreachFacts {
        config: &reroute,
        reach: &r,
    };
    match sla::breach(conv, &id, &facts, at(90)) {
        Some((
            _,
            Breach::Reroute {
                from,
                to,
                handoff,
                next,
            },
        )) => {
            assert_eq!(
                (from.as_str(), to.as_str()),
                ("billing", "billing-overflow")
            );
            assert!(handoff.sla_breached_at_ms.is_some());
            assert!(
                next.state.handoff.is_none(),
                "the runtime puts the moved handoff back"
            );
        }
        other => panic!("re-route expected, got {other:?}"),
    }
}

#[test]
fn timer_due_inactivity_checks_in_hands_off_or_does_nothing() {
    let conv = conversation(Owner::Bot);
    assert!(proactive::idle(&conv, 4));
    assert!(
        !proactive::idle(&conv, 3),
        "something happened since the bot's reply"
    );
    let mut checked = conv.clone();
    checked.state.checked_in = true;
    assert!(!proactive::idle(&checked, 4), "one check-in per silence");
    assert!(!proactive::idle(
        &handed_off(HandoffStatus::Queued, None),
        4
    ));

    let silence = |c: &CustomerRecord, now| proactive::silence(&TestPolicy, &conv, c, now);
    assert!(
        matches!(silence(&customer(), at(30)), Silence::Nothing),
        "20 s of quiet"
    );
    assert!(matches!(silence(&customer(), at(90)), Silence::CheckIn(_)));
    let vip = CustomerRecord {
        segment: Some("vip".into()),
        ..customer()
    };
    assert!(matches!(silence(&vip, at(90)), Silence::Handoff(_)));

    let mut next = conv.clone();
    next.updated_at = at(90);
    let turn = proactive::turn(next, &reach(), vec![OutboundContent::text(CHECK_IN)], None);
    assert_eq!(to_customer(&turn), vec![CHECK_IN.to_owned()]);
    assert_eq!(turn.entries[0].from, Party::System);
    assert_eq!(turn.conversation.next_seq, 5);
}

#[test]
fn timer_due_kinds_are_keyed_one_per_conversation_or_handoff() {
    let check_in = Timer::Inactivity {
        conversation_id: ConversationId::new("conv_1"),
        next_seq: 4,
    };
    let sla = Timer::Sla {
        conversation_id: ConversationId::new("conv_1"),
        handoff_id: "ho_1".into(),
    };
    assert_eq!(check_in.id(), "inactivity:conv_1");
    assert_eq!(sla.id(), "sla:ho_1");
    assert_eq!((check_in.kind(), sla.kind()), ("inactivity", "sla"));
    assert_eq!(Command::TimerDue(sla).kind(), "timer_due");
}

// ---- business event --------------------------------------------------------------------

#[test]
fn business_event_hands_off_only_what_the_bot_owns_and_tells_only_the_desk() {
    assert!(proactive::bot_owns(&conversation(Owner::Bot)));
    assert!(!proactive::bot_owns(&conversation(Owner::Agent)));
    assert!(!proactive::bot_owns(&handed_off(
        HandoffStatus::Queued,
        None
    )));

    let events = [crate::policy::BusinessEvent {
        kind: "churn_risk".into(),
        at: at(5),
    }];
    let decision = TestPolicy.evaluate_events(&EventsInput {
        customer: &customer(),
        events: &events,
        now: at(6),
    });
    assert!(decision.escalate);

    // The customer has not written: the turn carries the desk's briefing, nothing to them.
    let mut next = conversation(Owner::Queue);
    next.updated_at = at(6);
    let op = tandem_sdk::DeskOp::Close(handoff::closed(
        handoff_of(&handed_off(HandoffStatus::Queued, None)),
        &next,
    ));
    let turn = proactive::turn(next, &reach(), Vec::new(), Some(("slack".into(), op)));
    assert!(to_customer(&turn).is_empty());
    assert_eq!(desk_ops(&turn), vec!["close".to_owned()]);
}

// ---- assignment ------------------------------------------------------------------------

#[test]
fn assignment_gives_a_waiting_handoff_to_the_agent_once() {
    let conv = handed_off(HandoffStatus::Queued, None);
    let id = handoff_of(&conv).id.clone();
    let amy = AgentRef {
        id: "amy".into(),
        name: Some("Amy".into()),
    };
    let Assignment::Now(turn, queue) = routing::assign(conv, &id, &amy, at(30)) else {
        panic!("a queued handoff is assigned")
    };
    assert_eq!(queue, "billing");
    let h = handoff_of(&turn.conversation);
    assert_eq!(h.assignee.as_ref(), Some(&amy));
    assert_eq!(
        h.routing.last().map(|s| s.change.as_str()),
        Some("assigned")
    );
    assert_eq!(desk_ops(&turn), vec!["update".to_owned()]);
    assert!(matches!(
        routing::assign(turn.conversation, &id, &amy, at(31)),
        Assignment::Already
    ));
    let accepted = handed_off(HandoffStatus::Accepted, Some("bob"));
    let id = handoff_of(&accepted).id.clone();
    assert!(matches!(
        routing::assign(accepted, &id, &amy, at(31)),
        Assignment::Gone
    ));
}

// ---- delivery report -------------------------------------------------------------------

#[test]
fn delivery_report_of_a_closed_window_resends_as_the_template() {
    let failed = OutboundMessage {
        outbox_id: OutboxId::generate(),
        channel: ChannelId::new("whatsapp"),
        recipient: "+15550001".into(),
        conversation_id: ConversationId::new("conv_1"),
        from: Party::Agent,
        content: OutboundContent::text("Your replacement ships today."),
        message_id: tandem_model::MessageId::generate(),
        created_at: at(10),
    };
    let mut with_template = caps();
    with_template.window_template = Some(TemplateMessage {
        name: "follow_up".into(),
        language: "en".into(),
        params: vec!["{name}".into(), "{text}".into()],
    });
    let turn = delivery::resend_as_template(
        conversation(Owner::Agent),
        &failed,
        &with_template,
        Some("Ada".into()),
        at(70),
    )
    .expect("a template is configured");
    assert_eq!(turn.outbox.len(), 1);
    let resent = &turn.outbox[0].message;
    assert_ne!(resent.outbox_id, failed.outbox_id, "a new outbox entry");
    let template = resent
        .content
        .template
        .as_ref()
        .expect("sent as the template");
    assert_eq!(
        template.params,
        vec!["Ada".to_owned(), "Your replacement ships today.".to_owned()]
    );
    assert_eq!(
        turn.conversation.version, 7,
        "the turn is made at the loaded version"
    );

    let again = delivery::resend_as_template(
        conversation(Owner::Agent),
        resent,
        &with_template,
        None,
        at(80),
    );
    assert!(again.is_none(), "a refused template is not resent");
    assert!(
        delivery::resend_as_template(conversation(Owner::Agent), &failed, &caps(), None, at(70))
            .is_none(),
        "no template configured"
    );
}

// ---- admin action ----------------------------------------------------------------------

#[test]
fn admin_action_releases_only_an_external_owner() {
    let mut external = conversation(Owner::External);
    external.state.external_at_ms = Some(handoff::ms(at(5)));
    let turn = ownership::release_external(external, at(60)).expect("released");
    assert_eq!(turn.conversation.state.owner, Owner::Bot);
    assert_eq!(turn.conversation.state.external_at_ms, None);
    assert_eq!(turn.conversation.updated_at, at(60));
    assert!(ownership::release_external(conversation(Owner::Bot), at(60)).is_none());
    let command = Command::AdminAction(AdminAction::ReleaseExternal(ConversationId::new("conv_1")));
    assert_eq!(command.kind(), "admin_action");
}
