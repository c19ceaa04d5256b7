//! Validation reports every problem with its path; versions hash the content.

use crate::{DEFAULT_POLICY, PolicyEngine};
use tandem_core::policy::EscalationPolicy;

fn errors(text: &str) -> Vec<String> {
    match PolicyEngine::from_toml_str(text) {
        Ok(_) => Vec::new(),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn shipped_policy_is_valid_and_covers_the_pillars() {
    let engine = PolicyEngine::builtin();
    let names: Vec<&str> = engine.categories().collect();
    for name in ["legal", "revenue", "retention", "distress", "human_request"] {
        assert!(names.contains(&name), "{name}");
    }
    assert!(engine.version().starts_with("sha256:"));
    assert_eq!(EscalationPolicy::version(&engine), engine.version());
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let broken = r#"
colour = "blue"

[matching]
negation_window = 20

[triggers]
intent_min_confidence = 1.5
fallback_offer_at = 4
fallback_handoff_at = 3

[routes]
distress = "nowhere"

[segments.vip]
min_priority = "urgent"
[segments.vip.triggers]
negative_below = -0.5

[segments.gold]
names = ["VIP"]

[[categories]]
name = "Legal"
priority = "urgent"
keywords = ["lawsuit", "", "Lawsuit!"]
intents = ["account_security"]
keyword = ["typo"]

[[categories]]
name = "human_request"
target = "lead"
priority = "medium"
intents = ["account_security", "Bad Intent"]

[[categories.groups]]
priority = "soon"
target = " "

[[events]]
type = "payment_failed"
category = "retention"
"#;
    let lines = errors(broken);
    for expected in [
        "colour: unknown key",
        "categories[0].keyword: unknown key",
        "matching.negation_window: must be at most 10",
        "triggers.intent_min_confidence: must be between 0 and 1",
        "triggers.fallback_offer_at: must be below fallback_handoff_at",
        "routes.distress: unknown category \"nowhere\"",
        "routes.sentiment_streak: missing (the default \"distress\" is not a category)",
        "segments.vip.min_priority: unknown priority \"urgent\"",
        "segments.vip.triggers.negative_below: can only be set in [triggers]",
        "segments.vip.names[0]: \"vip\" is already a name of segments.gold",
        "categories[0].name: must be snake_case",
        "categories[0].target: missing",
        "categories[0].priority: unknown priority \"urgent\"",
        "categories[0].keywords[1]: has no words left after normalisation",
        "categories[0].keywords[2]: duplicate of categories[0].keywords[0]",
        "categories[1].intents[0]: intent \"account_security\" is already mapped by categories[0].intents[0]",
        "categories[1].intents[1]: must be a snake_case intent name",
        "categories[1].groups[0].priority: unknown priority \"soon\"",
        "categories[1].groups[0].target: empty",
        "events[0].count: missing (at least 1)",
        "events[0].within_hours: missing (hours, above 0)",
        "events[0].category: unknown category \"retention\"",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "missing {expected:?} in {lines:#?}"
        );
    }
}

#[test]
fn syntax_and_type_errors_are_reported() {
    let lines = errors("[[categories]\nname = 1");
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("line 1: not valid TOML"), "{lines:?}");
    let lines = errors("[triggers]\nsentiment_streak = \"two\"");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("invalid type"), "{lines:?}");
    assert!(
        errors("")
            .iter()
            .any(|l| l.starts_with("categories: missing"))
    );
}

#[test]
fn version_hashes_content_not_formatting() {
    let a = PolicyEngine::from_toml_str(DEFAULT_POLICY).unwrap();
    let b = PolicyEngine::builtin();
    assert_eq!(a.version(), b.version(), "stable across loads");
    let minimal = "[[categories]]\nname = \"distress\"\ntarget = \"lead\"\npriority = \"medium\"\n\
                   [[categories]]\nname = \"human_request\"\ntarget = \"lead\"\npriority = \"low\"\n";
    let reformatted = "# a comment\n[[categories]]\npriority = \"medium\"   # same keys, other order\n\
                       target = \"lead\"\nname = \"distress\"\n\n[[categories]]\nname = \"human_request\"\n\
                       priority = \"low\"\ntarget = \"lead\"\n";
    let changed = minimal.replace("\"low\"", "\"high\"");
    let v = |t: &str| PolicyEngine::from_toml_str(t).unwrap().version().to_owned();
    assert_eq!(v(minimal), v(reformatted));
    assert_ne!(v(minimal), v(&changed));
    assert_ne!(v(minimal), a.version());
    assert_eq!(v(minimal).len(), "sha256:".len() + 16);
}

#[test]
fn routine_intents_are_checked() {
    let text = format!(
        "{}\n[intents]\nroutine = [\"complaint\", \"Bad Name\", \"faq\", \"faq\"]\nroutine_min_confidence = 2.0\n",
        crate::DEFAULT_POLICY.replace("[intents]", "[old_intents]")
    );
    let errors = errors(&text);
    let has = |s: &str| errors.iter().any(|e| e.contains(s));
    assert!(
        has("intents.routine[0]: intent \"complaint\" is mapped"),
        "{errors:?}"
    );
    assert!(
        has("intents.routine[1]: must be a snake_case"),
        "{errors:?}"
    );
    assert!(
        has("intents.routine[3]: duplicate of intents.routine[2]"),
        "{errors:?}"
    );
    assert!(
        has("intents.routine_min_confidence: must be between"),
        "{errors:?}"
    );
}
