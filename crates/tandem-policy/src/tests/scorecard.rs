//! The escalation scorecard on the held-out split of the intent corpus
//! (`crates/tandem-ai/data/intents/`): the goals of `docs/ESCALATION.md`.

use crate::PolicyEngine;
use crate::eval::Scorecard;
use crate::replay::Replay;

const SINGLE: &str = include_str!("../../../tandem-ai/data/intents/heldout.jsonl");
const CONVERSATIONS: &str =
    include_str!("../../../tandem-ai/data/intents/heldout-conversations.jsonl");

fn score(input: &str) -> Scorecard {
    let engine = PolicyEngine::builtin();
    let bot = tandem_ai::KnowledgeBot::builtin();
    let sentiment = tandem_ai::Vader::new();
    let intents = tandem_ai::BuiltinIntents::new();
    let replay = Replay {
        bot: &bot,
        sentiment: &sentiment,
        intents: Some(&intents),
        policy: &engine,
    };
    futures::executor::block_on(replay.evaluate(input)).unwrap()
}

/// Fails when the set scores below `f1`, above `false_escalations` or below `category`.
fn assert_at_least(name: &str, card: &Scorecard, f1: f64, false_escalations: f64, category: f64) {
    eprintln!("{name}:\n{}", card.render());
    let c = &card.overall;
    let (got_f1, got_fer, got_cat) = (
        c.f1().unwrap(),
        c.false_escalation_rate().unwrap(),
        c.category_accuracy().unwrap(),
    );
    assert!(
        got_f1 >= f1 && got_fer <= false_escalations && got_cat >= category,
        "{name}: F1 {got_f1:.3} (floor {f1}), false escalations {got_fer:.3} (ceiling \
         {false_escalations}), category accuracy {got_cat:.3} (floor {category})"
    );
}

/// The goal of issue 15: F1 ≥ 0.90, false escalations ≤ 5 %, category accuracy ≥ 0.85.
#[test]
fn held_out_single_messages_meet_the_goal() {
    assert_at_least("single messages", &score(SINGLE), 0.90, 0.05, 0.85);
}

/// The same goal for the 2-3 turn conversations (0.968 and 1.0 % measured, see
/// docs/ESCALATION.md).
#[test]
fn held_out_conversations_meet_the_goal() {
    assert_at_least("conversations", &score(CONVERSATIONS), 0.90, 0.05, 0.85);
}
