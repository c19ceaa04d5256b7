//! Tests of [`KnowledgeBot`] on the shipped knowledge base.

use crate::{KnowledgeBot, SLOT_FOLLOW_UP_CONFIDENCE};
use std::collections::BTreeMap;
use tandem_core::ai::{Bot, BotAnswer, BotQuestion};

fn ask(bot: &KnowledgeBot, text: &str) -> BotAnswer {
    ask_with(bot, text, &BTreeMap::new(), None)
}

fn ask_with(
    bot: &KnowledgeBot,
    text: &str,
    slots: &BTreeMap<String, String>,
    last_intent: Option<&str>,
) -> BotAnswer {
    bot.respond(BotQuestion {
        text,
        slots,
        last_intent,
        channel: "",
        conversation: "",
    })
}

#[test]
fn every_training_phrase_maps_to_its_intent() {
    let bot = KnowledgeBot::builtin();
    let kb = bot.knowledge_base();
    assert!(kb.intents.len() >= 18);
    for intent in &kb.intents {
        for phrase in &intent.phrases {
            let a = ask(&bot, phrase);
            assert_eq!(
                a.intent.as_deref(),
                Some(intent.name.as_str()),
                "{phrase:?}: {a:?}"
            );
            assert!(a.confidence >= 0.9, "{phrase:?}: {}", a.confidence);
            assert!(!a.fallback, "{phrase:?}");
        }
    }
}

#[test]
fn required_intents_exist() {
    let bot = KnowledgeBot::builtin();
    for name in [
        "greeting",
        "thanks",
        "goodbye",
        "order_status",
        "opening_hours",
        "shipping",
        "returns_policy",
        "reset_password",
        "payment_methods",
        "contact",
        "request_refund",
        "talk_to_human",
        "cancel_subscription",
        "billing_problem",
        "pricing",
        "account_security",
        "data_privacy",
        "complaint",
    ] {
        let intent = bot
            .knowledge_base()
            .intent(name)
            .unwrap_or_else(|| panic!("{name}"));
        assert!((6..=12).contains(&intent.phrases.len()), "{name}");
    }
}

#[test]
fn paraphrases_hit_their_intents_above_threshold() {
    let bot = KnowledgeBot::builtin();
    let threshold = bot.knowledge_base().threshold;
    for (text, expected) in [
        ("where is my package", "order_status"),
        ("when do you open on saturday", "opening_hours"),
        ("i forgot my password", "reset_password"),
        ("how long does delivery take", "shipping"),
        ("could you send my money back?", "request_refund"),
        ("is there a real person there?", "talk_to_human"),
        ("Hellö!!", "greeting"),
        ("how can I pay?", "payment_methods"),
        ("someone hacked my account", "account_security"),
        ("I was charged two times, double charged", "billing_problem"),
        ("please delete all my personal data", "data_privacy"),
        ("I need help", "help"),
        ("pasword reset please", "reset_password"),
        (
            "how do I unsubscribe from my subscription",
            "cancel_subscription",
        ),
    ] {
        let a = ask(&bot, text);
        assert_eq!(
            a.intent.as_deref(),
            Some(expected),
            "{text:?}: {:?}",
            bot.rank(text)
        );
        assert!(
            a.confidence >= threshold && !a.fallback,
            "{text:?}: {}",
            a.confidence
        );
        assert!(a.confidence <= 1.0);
    }
}

#[test]
fn unrelated_text_falls_back() {
    let bot = KnowledgeBot::builtin();
    let kb = bot.knowledge_base();
    for text in [
        "the weather on mars is purple",
        "asdfgh",
        "",
        "   ",
        "?!",
        "lorem ipsum dolor",
    ] {
        let a = ask(&bot, text);
        assert!(a.fallback, "{text:?}: {a:?}");
        assert!(a.confidence < kb.threshold, "{text:?}: {}", a.confidence);
        assert_eq!(a.text, kb.fallback);
        assert_eq!(a.buttons, kb.fallback_buttons);
    }
    assert_eq!(ask(&bot, "asdfgh").intent, None);
    // A weak partial match is still reported as the best guess.
    let a = ask(&bot, "what is the meaning of life");
    assert!(
        a.fallback && a.intent.is_some() && a.confidence > 0.0,
        "{a:?}"
    );
}

#[test]
fn order_status_asks_for_the_number_when_missing() {
    let bot = KnowledgeBot::builtin();
    let a = ask(&bot, "where is my order?");
    let intent = bot.knowledge_base().intent("order_status").unwrap();
    assert_eq!(a.intent.as_deref(), Some("order_status"));
    assert!(!a.fallback);
    assert_eq!(Some(&a.text), intent.ask.as_ref());
    assert!(a.slots.is_empty());
}

#[test]
fn order_number_in_the_message_is_used_and_returned() {
    let bot = KnowledgeBot::builtin();
    let a = ask(&bot, "my order #12345 hasn't arrived");
    assert_eq!(a.intent.as_deref(), Some("order_status"));
    assert!(
        a.text.contains("12345") && !a.text.contains("{order_number}"),
        "{}",
        a.text
    );
    assert_eq!(
        a.slots.get("order_number").map(String::as_str),
        Some("12345")
    );
    assert!(a.confidence >= 0.9);
}

#[test]
fn order_number_from_the_conversation_is_used() {
    let bot = KnowledgeBot::builtin();
    let slots = BTreeMap::from([("order_number".to_owned(), "A-10023".to_owned())]);
    let a = ask_with(&bot, "track my order", &slots, None);
    assert!(a.text.contains("A-10023"), "{}", a.text);
    assert!(
        a.slots.is_empty(),
        "nothing new extracted from this message"
    );
}

#[test]
fn bare_number_after_the_question_resumes_the_intent() {
    let bot = KnowledgeBot::builtin();
    let first = ask(&bot, "where is my order");
    assert!(first.text.contains("order number"));
    let a = ask_with(
        &bot,
        "it's 12345",
        &BTreeMap::new(),
        first.intent.as_deref(),
    );
    assert_eq!(a.intent.as_deref(), Some("order_status"));
    assert!(!a.fallback);
    assert!(a.text.contains("12345"), "{}", a.text);
    assert_eq!(
        a.slots.get("order_number").map(String::as_str),
        Some("12345")
    );
    assert_eq!(a.confidence, SLOT_FOLLOW_UP_CONFIDENCE);

    // Same for another intent that needs the number.
    let a = ask_with(&bot, "A-10023", &BTreeMap::new(), Some("cancel_order"));
    assert_eq!(a.intent.as_deref(), Some("cancel_order"));
    assert!(a.text.contains("A-10023"));

    // Without the pending question, a bare number means nothing.
    assert!(ask_with(&bot, "it's 12345", &BTreeMap::new(), Some("shipping")).fallback);
    assert!(ask(&bot, "it's 12345").fallback);

    // A clear new question wins over the pending one.
    let a = ask_with(
        &bot,
        "12345, and what are your opening hours?",
        &BTreeMap::new(),
        Some("order_status"),
    );
    assert_eq!(a.intent.as_deref(), Some("opening_hours"));
}

#[test]
fn answers_carry_buttons_and_greeting() {
    let bot = KnowledgeBot::builtin();
    let a = ask(&bot, "hello");
    assert!(!a.buttons.is_empty());
    assert!(bot.greeting().is_some_and(|g| g.contains("Tandem")));
}

#[test]
fn button_payloads_lead_back_to_intents() {
    let bot = KnowledgeBot::builtin();
    let kb = bot.knowledge_base();
    let buttons = kb
        .intents
        .iter()
        .flat_map(|i| &i.buttons)
        .chain(&kb.fallback_buttons);
    for b in buttons {
        for text in [&b.payload, &b.title] {
            let a = ask(&bot, text);
            assert!(!a.fallback, "button {text:?} falls back");
        }
    }
}

#[test]
fn trait_answer_matches_respond() {
    let bot = KnowledgeBot::builtin();
    let slots = BTreeMap::new();
    let q = BotQuestion {
        text: "how long does delivery take",
        slots: &slots,
        last_intent: None,
        channel: "",
        conversation: "",
    };
    let a = futures::executor::block_on(bot.answer(q));
    assert_eq!(a, bot.respond(q));
    assert_eq!(a.intent.as_deref(), Some("shipping"));
}
