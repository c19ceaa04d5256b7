//! Every trigger of the shipped policy, and the decision's choice and explanation.

use super::{Case, bot, customer, labels, now, policy};
use crate::PolicyEngine;
use std::time::Duration;
use tandem_core::policy::{
    BusinessEvent, EscalationPolicy, EventsInput, InactivityInput, OfferKind, PastContact,
};
use tandem_core::store::{ConversationState, Owner};

fn shipped() -> PolicyEngine {
    PolicyEngine::builtin()
}

#[test]
fn keyword_and_intent_with_category_target_priority() {
    let mut case = Case::new("I want a refund");
    case.bot = bot(Some("request_refund"), 1.0);
    let d = case.eval(&shipped());
    assert!(d.escalate);
    assert_eq!(d.category.as_deref(), Some("revenue"));
    assert_eq!(d.priority.as_deref(), Some("high"));
    assert_eq!(d.target.as_deref(), Some("billing"));
    assert_eq!(labels(&d), ["keyword:refund", "intent:request_refund"]);
    assert_eq!(d.reasons[0].label(), "keyword:refund");
    assert!(d.offers.is_empty());
}

#[test]
fn groups_route_to_their_own_target_and_priority() {
    let d = Case::new("I need a quote for 50 units").eval(&shipped());
    assert_eq!(d.target.as_deref(), Some("sales"));
    let d = Case::new("I want to end my life").eval(&shipped());
    assert_eq!(d.category.as_deref(), Some("distress"));
    assert_eq!(d.priority.as_deref(), Some("immediate"));
}

/// Issue 18 item 8: the sales keyword "quote" matched "quoted" in "reply to a quoted
/// message"; a request for a quote still goes to sales.
#[test]
fn a_quoted_message_is_not_a_request_for_a_quote() {
    for text in [
        "reply to a quoted message",
        "I quoted your last message",
        "see the quoted text above",
    ] {
        let d = Case::new(text).eval(&shipped());
        assert_ne!(d.target.as_deref(), Some("sales"), "{text}");
    }
    for text in [
        "I need a quote for 50 units",
        "we want to get a quote for 200 units",
        "please send me a quote",
        "I need a quotation for 10 seats",
    ] {
        let d = Case::new(text).eval(&shipped());
        assert_eq!(d.target.as_deref(), Some("sales"), "{text}");
    }
}

#[test]
fn intent_needs_confidence() {
    let mut case = Case::new("could you send it back");
    case.bot = bot(Some("request_refund"), 0.45);
    assert!(!case.eval(&shipped()).escalate);
    case.bot = bot(Some("request_refund"), 0.8);
    assert_eq!(labels(&case.eval(&shipped())), ["intent:request_refund"]);
}

#[test]
fn informational_questions_the_bot_answers_are_deferred() {
    let mut case = Case::new("how do refunds work?");
    case.bot = bot(Some("refund_policy"), 0.9);
    assert!(!case.eval(&shipped()).escalate);
    // The same words as a demand escalate.
    case.text = "refunds now";
    assert!(case.eval(&shipped()).escalate);
    // A question the bot cannot answer escalates.
    case.text = "how do refunds work?";
    case.bot = bot(None, 0.1);
    assert!(case.eval(&shipped()).escalate);
    // Legal never defers.
    case.text = "how do I talk to your lawyer?";
    case.bot = bot(Some("contact"), 0.9);
    assert!(case.eval(&shipped()).escalate);
}

#[test]
fn highest_priority_wins_then_file_order() {
    let d = Case::new("I was charged twice and my account was hacked").eval(&shipped());
    assert_eq!(d.category.as_deref(), Some("legal"));
    assert_eq!(d.reasons[0].category.as_deref(), Some("legal"));
    assert!(labels(&d).contains(&"keyword:charged twice".to_owned()));
    let d = Case::new("cancel my subscription, you charged me twice").eval(&shipped());
    assert_eq!(
        d.category.as_deref(),
        Some("revenue"),
        "revenue is listed before retention"
    );
}

#[test]
fn sentiment_streak_counts_and_is_configurable() {
    let mut case = Case::new("this is useless");
    case.sentiment = -0.5;
    case.bot = bot(None, 0.0);
    case.state.fallback_count = 1;
    case.state.negative_count = 1;
    assert!(!case.eval(&shipped()).escalate);
    case.state.negative_count = 2;
    let d = case.eval(&shipped());
    assert_eq!(labels(&d), ["sentiment_streak:2 negative messages"]);
    assert_eq!(d.category.as_deref(), Some("distress"));
    assert_eq!(d.target.as_deref(), Some("support_lead"));
    let three = policy("[triggers]\nsentiment_streak = 3");
    assert!(!case.eval(&three).escalate);
    assert_eq!(shipped().negative_threshold(), -0.3);
    assert_eq!(
        policy("[triggers]\nnegative_below = -0.5").negative_threshold(),
        -0.5
    );
}

#[test]
fn fallback_loop_strikes() {
    let engine = shipped();
    let mut case = Case::new("blorp");
    case.bot = bot(None, 0.0);
    case.state.fallback_count = 1;
    let d = case.eval(&engine);
    assert!(!d.escalate && d.offers(OfferKind::Rephrase) && !d.offers(OfferKind::HumanButton));
    case.state.fallback_count = 2;
    let d = case.eval(&engine);
    assert!(!d.escalate && d.offers(OfferKind::HumanButton));
    assert_eq!(d.offers[0].reason.code, "fallback_loop");
    case.state.fallback_count = 3;
    let d = case.eval(&engine);
    assert!(d.escalate && d.offers.is_empty());
    assert_eq!(labels(&d), ["fallback_loop:3 fallbacks in a row"]);
    assert_eq!(d.category.as_deref(), Some("human_request"));
}

#[test]
fn low_confidence_offers_the_button_only() {
    let mut case = Case::new("is the shop open");
    case.bot = bot(Some("opening_hours"), 0.57);
    let d = case.eval(&shipped());
    assert!(!d.escalate);
    assert!(d.offers(OfferKind::HumanButton));
    assert_eq!(d.offers[0].reason.evidence, "confidence 0.57");
    case.bot = bot(Some("opening_hours"), 0.7);
    assert!(case.eval(&shipped()).offers.is_empty());
}

#[test]
fn distress_signals_add_up() {
    let engine = shipped();
    let shout = |text: &'static str, sentiment: f32| {
        let mut c = Case::new(text);
        c.sentiment = sentiment;
        c.bot = bot(None, 0.0);
        c.eval(&engine)
    };
    let d = shout("WHY IS MY ORDER NOT HERE!!!", 0.0);
    assert_eq!(labels(&d), ["distress:ALL CAPS", "distress:!!!"]);
    assert!(
        !shout("WHY IS MY ORDER NOT HERE", 0.0).escalate,
        "one signal"
    );
    assert!(!shout("THANK YOU SO MUCH!!!", 0.5).escalate, "positive");
    assert!(!shout("I'm very angry", -0.5).escalate, "one mild word");
    assert!(
        shout("I'm angry and upset", -0.6).escalate,
        "two mild words"
    );
    assert!(!shout("I'm not angry or upset", 0.3).escalate);
    let d = shout("this shit bot", -0.5);
    assert_eq!(labels(&d), ["distress:profanity"], "profanity counts twice");
    assert!(!shout("OK", -0.5).escalate, "too few letters to shout");
}

#[test]
fn human_request_and_ai_first() {
    let engine = shipped();
    let mut case = Case::new("agent");
    case.bot = bot(Some("talk_to_human"), 1.0);
    let d = case.eval(&engine);
    assert_eq!(labels(&d), ["human_request:agent", "intent:talk_to_human"]);
    case.customer = customer(Some("free"));
    let d = case.eval(&engine);
    assert!(!d.escalate);
    assert!(d.offers(OfferKind::BotFirst));
    case.state.human_offered = true;
    assert!(case.eval(&engine).escalate, "the second request hands off");
    case.text = "I'm not asking for a human";
    case.bot = bot(Some("help"), 0.9);
    case.customer = customer(None);
    assert!(!case.eval(&engine).escalate, "negated");
}

#[test]
fn vip_floor_reason_and_lower_thresholds() {
    let engine = shipped();
    let mut case = Case::new("agent");
    case.customer = customer(Some("VIP"));
    let d = case.eval(&engine);
    assert_eq!(d.priority.as_deref(), Some("high"));
    assert_eq!(d.reasons.last().map(|r| r.code.as_str()), Some("vip"));
    // One negative message, one mild word, the second fallback.
    case.text = "I'm very angry";
    case.sentiment = -0.6;
    case.state.negative_count = 1;
    let d = case.eval(&engine);
    assert!(labels(&d).contains(&"sentiment_streak:1 negative messages".to_owned()));
    assert!(labels(&d).contains(&"distress:angry".to_owned()));
    case.text = "blorp";
    case.sentiment = 0.0;
    case.state.negative_count = 0;
    case.state.fallback_count = 2;
    case.bot = bot(None, 0.0);
    assert!(case.eval(&engine).escalate);
    // The segment can come from an attribute.
    let mut attr = Case::new("agent");
    attr.customer
        .attributes
        .insert("plan".into(), "enterprise".into());
    assert_eq!(attr.eval(&engine).priority.as_deref(), Some("high"));
    // Legal stays immediate.
    case.text = "lawsuit";
    assert_eq!(case.eval(&engine).priority.as_deref(), Some("immediate"));
}

#[test]
fn repeat_contact_within_the_window() {
    let engine = shipped();
    let mut case = Case::new("where is my order");
    case.bot = bot(Some("order_status"), 1.0);
    case.state.last_intent = Some("order_status".into());
    let day = time::Duration::days(1);
    case.history = vec![
        PastContact {
            intent: "order_status".into(),
            at: now() - day,
        },
        PastContact {
            intent: "order_status".into(),
            at: now() - day * 3,
        },
    ];
    let d = case.eval(&engine);
    assert_eq!(
        labels(&d),
        ["repeat_contact:3 conversations about order_status in 7 days"]
    );
    case.history[1].at = now() - day * 8;
    assert!(!case.eval(&engine).escalate);
    case.history[1].at = now() - day;
    case.state.last_intent = Some("greeting".into());
    assert!(!case.eval(&engine).escalate, "small talk is ignored");
}

#[test]
fn inactivity_checks_in_and_may_hand_off() {
    let state = ConversationState::default();
    let who = customer(None);
    let at = |engine: &PolicyEngine, secs: u64, state: &ConversationState| {
        engine.evaluate_inactivity(&InactivityInput {
            state,
            customer: &who,
            idle: Duration::from_secs(secs),
            now: now(),
        })
    };
    let engine = shipped();
    assert!(at(&engine, 60, &state).offers.is_empty());
    let d = at(&engine, 121, &state);
    assert!(!d.escalate && d.offers(OfferKind::CheckIn));
    assert_eq!(d.offers[0].reason.code, "inactivity");
    let handing = policy("[triggers]\ninactivity_handoff_secs = 300");
    let d = at(&handing, 301, &state);
    assert!(d.escalate);
    assert_eq!(d.category.as_deref(), Some("human_request"));
    let queued = ConversationState {
        owner: Owner::Queue,
        ..ConversationState::default()
    };
    assert_eq!(at(&engine, 500, &queued), Default::default());
}

#[test]
fn business_events_within_the_window() {
    let engine = shipped();
    let who = customer(None);
    let hour = time::Duration::hours(1);
    let failed = |ago: time::Duration| BusinessEvent {
        kind: "payment_failed".into(),
        at: now() - ago,
    };
    let mut events = vec![failed(hour), failed(hour * 5), failed(hour * 23)];
    let eval = |events: &[BusinessEvent]| {
        engine.evaluate_events(&EventsInput {
            customer: &who,
            events,
            now: now(),
        })
    };
    let d = eval(&events);
    assert!(d.escalate);
    assert_eq!(d.category.as_deref(), Some("retention"));
    assert_eq!(d.target.as_deref(), Some("success_manager"));
    assert_eq!(labels(&d), ["event:at_risk: 3 payment_failed within 24 h"]);
    events[2] = failed(hour * 25);
    assert!(!eval(&events).escalate);
    events[2] = BusinessEvent {
        kind: "login".into(),
        at: now(),
    };
    assert!(!eval(&events).escalate);
}

#[test]
fn decide_message_remembers_that_a_person_was_offered() {
    use tandem_core::turn::{MessageFacts, Understanding, decide_message};
    let engine = shipped();
    let free = customer(Some("free"));
    let channel = tandem_model::ChannelId::new("webchat");
    let mut state = ConversationState::default();
    let ask = |state: &mut ConversationState| {
        let facts = MessageFacts {
            customer: &free,
            channel: &channel,
            text: "agent",
            history: &[],
            now: now(),
        };
        let understanding = Understanding {
            sentiment: 0.0,
            answer: bot(Some("talk_to_human"), 1.0),
            intent: None,
            trace: Default::default(),
        };
        decide_message(&engine, state, &facts, &understanding)
    };
    let first = ask(&mut state);
    assert!(!first.escalate && first.offers(OfferKind::BotFirst));
    assert!(state.human_offered);
    assert_eq!(state.last_intent.as_deref(), Some("talk_to_human"));
    let second = ask(&mut state);
    assert!(second.escalate);
    assert_eq!(second.category.as_deref(), Some("human_request"));
}
