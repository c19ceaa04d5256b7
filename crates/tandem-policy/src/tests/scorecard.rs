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

/// F1 ≥ 0.90, false escalations ≤ 5 %, category accuracy ≥ 0.85.
fn assert_goal(name: &str, card: &Scorecard) {
    eprintln!("{name}:\n{}", card.render());
    let c = &card.overall;
    let (f1, fer, cat) = (
        c.f1().unwrap(),
        c.false_escalation_rate().unwrap(),
        c.category_accuracy().unwrap(),
    );
    assert!(
        f1 >= 0.90 && fer <= 0.05 && cat >= 0.85,
        "{name}: F1 {f1:.3} (goal ≥ 0.90), false escalations {fer:.3} (≤ 0.05), \
         category accuracy {cat:.3} (≥ 0.85)"
    );
}

#[test]
fn held_out_single_messages_meet_the_goal() {
    assert_goal("single messages", &score(SINGLE));
}

#[test]
fn held_out_conversations_meet_the_goal() {
    assert_goal("conversations", &score(CONVERSATIONS));
}
