//! How the policy reads the intent classifier: intents, routine look-alikes, the speech
//! act, negation, and routine turns in conversations.

use super::{Case, bot};
use crate::PolicyEngine;
use tandem_core::ai::{IntentSignal, SpeechAct};
use tandem_core::policy::{EscalationPolicy, OfferKind};
use tandem_core::store::ConversationState;

fn signal(intent: &str, confidence: f32, act: SpeechAct) -> Option<IntentSignal> {
    Some(IntentSignal {
        intent: intent.into(),
        confidence,
        act,
        act_confidence: 0.9,
        negated: false,
        call: None,
    })
}

fn shipped() -> PolicyEngine {
    PolicyEngine::builtin()
}

#[test]
fn the_classifier_intent_escalates_to_its_category() {
    let mut case = Case::new("the money for my order, return it");
    case.intent = signal("refund_demand", 0.8, SpeechAct::Request);
    let d = case.eval(&shipped());
    assert!(d.escalate);
    assert_eq!(d.category.as_deref(), Some("revenue"));
    assert_eq!(d.reasons[0].code, "intent");
    assert_eq!(d.reasons[0].evidence, "refund_demand");
}

#[test]
fn the_classifier_replaces_the_bot_intent() {
    // The bot's BM25 hears a refund request; the classifier hears a policy question.
    let mut case = Case::new("can refunds be paid as store credit");
    case.bot = bot(Some("request_refund"), 0.9);
    case.intent = signal("refund_policy", 0.9, SpeechAct::Question);
    assert!(!case.eval(&shipped()).escalate);
}

#[test]
fn keywords_yield_to_a_confident_routine_intent_but_not_to_an_unsure_one() {
    let mut case = Case::new("how long until a refund shows up on my card");
    case.intent = signal("refund_policy", 0.8, SpeechAct::Question);
    assert!(!case.eval(&shipped()).escalate);
    case.intent = signal("refund_policy", 0.3, SpeechAct::Statement);
    let d = case.eval(&shipped());
    assert!(d.escalate, "an unsure routine intent leaves the keyword");
    assert_eq!(d.reasons[0].evidence, "refund");
}

#[test]
fn explicit_asks_for_a_person_do_not_yield() {
    let mut case = Case::new("where is my order? I want to talk to a person");
    case.intent = signal("order_status", 0.9, SpeechAct::Question);
    let d = case.eval(&shipped());
    assert!(d.escalate);
    assert_eq!(d.category.as_deref(), Some("human_request"));
}

#[test]
fn a_negated_wish_does_not_trigger_its_intent() {
    let mut case = Case::new("I don't want to cancel my plan");
    let mut s = signal("cancellation", 0.8, SpeechAct::Statement);
    if let Some(s) = s.as_mut() {
        s.negated = true;
    }
    case.intent = s;
    assert!(!case.eval(&shipped()).escalate);
}

#[test]
fn routine_negative_turns_do_not_add_up_to_a_streak() {
    let engine = shipped();
    let routine = signal("password_recovery", 0.9, SpeechAct::Statement);
    assert!(!engine.counts_as_negative(-0.6, routine.as_ref()));
    assert!(engine.counts_as_negative(-0.6, None));
    let unsure = signal("password_recovery", 0.4, SpeechAct::Statement);
    assert!(engine.counts_as_negative(-0.6, unsure.as_ref()));
}

#[test]
fn a_routine_fallback_offers_the_button_and_is_not_a_strike() {
    let engine = shipped();
    let routine = signal("newsletter", 0.9, SpeechAct::Question);
    assert!(!engine.counts_as_fallback(routine.as_ref()));
    let mut case = Case::new("where do I change my email preferences");
    case.bot = bot(None, 0.1);
    case.intent = routine;
    case.state = ConversationState {
        fallback_count: 3,
        ..ConversationState::default()
    };
    let d = case.eval(&engine);
    assert!(!d.escalate);
    assert!(d.offers(OfferKind::HumanButton));
    // The same third fallback on an unclear message hands off.
    case.intent = signal("other", 0.3, SpeechAct::Statement);
    assert!(case.eval(&engine).escalate);
}
