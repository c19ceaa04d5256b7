//! Tests of knowledge-base parsing and validation.

use crate::{BUILTIN_TOML, DEFAULT_THRESHOLD, KnowledgeBase, SlotKind};

#[test]
fn builtin_parses() {
    let kb = KnowledgeBase::from_toml_str(BUILTIN_TOML).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!((0.3..=0.4).contains(&kb.threshold));
    assert!(kb.greeting.is_some());
    assert!(kb.fallback.contains("agent"));
    let order = kb.intent("order_status").unwrap();
    assert_eq!(order.answer_needs, Some(SlotKind::OrderNumber));
    assert!(order.answer.contains("{order_number}"));
    assert_eq!(KnowledgeBase::builtin(), kb);
}

#[test]
fn minimal_file_gets_defaults() {
    let kb = KnowledgeBase::from_toml_str(
        r#"
        fallback = "?"
        [[intents]]
        name = "hi"
        phrases = ["hello"]
        answer = "Hi!"
        "#,
    )
    .unwrap();
    assert_eq!(kb.threshold, DEFAULT_THRESHOLD);
    assert_eq!(kb.greeting, None);
    assert!(kb.fallback_buttons.is_empty() && kb.intents[0].buttons.is_empty());
}

#[test]
fn reports_every_problem_with_its_path() {
    let broken = r#"
        threshold = 3
        fallback = ""
        colour = "blue"

        [[intents]]
        name = "ok_one"
        phrases = ["where is my order"]
        answer = "Order {order_number}"

        [[intents]]
        name = "Bad Name"
        phrases = []
        answer = "x"
        buttons = [{ title = "t" }]

        [[intents]]
        name = "ok_one"
        phrases = ["the", 42, "WHERE is my order?"]
        answer_needs = "shoe_size"
        phrase = "typo"

        [[intents]]
        name = "asks"
        phrases = ["ask me"]
        answer = "y"
        ask = "what?"
    "#;
    let errors = KnowledgeBase::from_toml_str(broken).unwrap_err();
    let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
    for expected in [
        "threshold: must be a number between 0 and 1",
        "fallback: empty",
        "colour: unknown key",
        "intents[0].answer: uses {order_number} but answer_needs is not \"order_number\"",
        "intents[1].name: must be snake_case",
        "intents[1].phrases: empty",
        "intents[1].buttons[0].payload: missing",
        "intents[2].phrases[0]: has no words left",
        "intents[2].phrases[1]: must be a string",
        "intents[2].answer: missing",
        "intents[2].answer_needs: unknown slot \"shoe_size\"",
        "intents[2].ask: missing",
        "intents[2].phrase: unknown key",
        "intents[2].name: duplicate of intents[0].name",
        "intents[2].phrases[0]: same words as intents[0].phrases[0]",
        "intents[3].ask: only used together with answer_needs",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "missing {expected:?} in {lines:#?}"
        );
    }
    assert_eq!(lines.len(), 16, "{lines:#?}");
}

#[test]
fn syntax_errors_have_a_position() {
    let errors =
        KnowledgeBase::from_toml_str("fallback = \"x\"\n[[intents]\nname = 1").unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].path.starts_with("line 2"), "{errors:?}");
}

#[test]
fn intents_are_required() {
    let errors = KnowledgeBase::from_toml_str("fallback = \"x\"").unwrap_err();
    assert_eq!(errors[0].to_string(), "intents: missing");
    let errors = KnowledgeBase::from_toml_str("fallback = \"x\"\nintents = 3").unwrap_err();
    assert_eq!(errors[0].path, "intents");
}
