//! Keyword matching: word forms, typos, accents, case, word boundaries, negation.

use super::{Case, labels, policy};
use crate::PolicyEngine;

fn legal(keywords: &str, matching: &str) -> PolicyEngine {
    policy(&format!(
        r#"
[[categories]]
name = "legal"
target = "compliance"
priority = "immediate"
keywords = [{keywords}]

[matching]
{matching}
"#
    ))
}

fn fires(engine: &PolicyEngine, text: &str) -> bool {
    Case::new(text).eval(engine).escalate
}

#[test]
fn inflections_match() {
    let p = legal(r#""refund", "cancel", "lawyer", "charge""#, "");
    for text in [
        "Refunds please",
        "I was refunded twice",
        "refunding",
        "cancellation",
        "cancelation",
        "I cancelled it",
        "they canceled",
        "cancelling now",
        "lawyers",
        "you charged me",
        "charges",
    ] {
        assert!(fires(&p, text), "{text:?}");
    }
}

#[test]
fn word_boundaries_hold() {
    let p = legal(r#""cancel", "sue you""#, "");
    assert!(fires(&p, "CANCELLATION"));
    for text in ["scancel", "cancelxyz", "pursue your dreams", "sue yourself"] {
        assert!(!fires(&p, text), "{text:?}");
    }
    assert!(fires(&p, "I'll sue you!"));
}

#[test]
fn typos_are_forgiven_for_long_words_only() {
    let p = legal(
        r#""subscription", "attorney", "hacked", "lawsuit""#,
        "fuzzy_min_len = 7",
    );
    for text in [
        "cancel my subscripton",
        "my atorney",
        "my attroney",
        "a lawsiut",
        "a lawssuit",
    ] {
        assert!(fires(&p, text), "{text:?}");
    }
    // Six letters: no typo tolerance ("packed" is a real word).
    assert!(!fires(&p, "the box was packed badly"));
    assert!(!fires(&p, "my atorny"), "two edits");
    let off = legal(r#""subscription""#, "fuzzy_min_len = 0");
    assert!(!fires(&off, "subscripton"));
}

#[test]
fn not_typos_are_never_corrected() {
    let with = legal(r#""charged""#, r#"not_typos = ["changed"]"#);
    assert!(!fires(&with, "I changed my address"));
    assert!(fires(&with, "you charegd me"), "still corrects real typos");
    let without = legal(r#""charged""#, "");
    assert!(
        fires(&without, "I changed my address"),
        "one edit away without the guard"
    );
}

#[test]
fn accents_and_case_are_ignored() {
    let p = legal(r#""réfund", "cafe""#, "");
    assert!(fires(&p, "REFUND"));
    assert!(fires(&p, "Réfund"));
    assert!(fires(&p, "the CAFÉ"));
    let d = Case::new("refund").eval(&p);
    assert_eq!(
        labels(&d),
        ["keyword:réfund"],
        "evidence is the keyword as written"
    );
}

#[test]
fn negation_stays_in_its_clause() {
    let p = legal(r#""angry""#, "negation_window = 3");
    assert!(!fires(&p, "not angry, just asking"));
    assert!(!fires(&p, "I'm not at all angry"));
    assert!(!fires(&p, "I don't feel angry"));
    assert!(fires(&p, "not happy, angry"), "a comma ends the clause");
    assert!(
        fires(&p, "not the refund but angry"),
        "'but' ends the clause"
    );
    assert!(
        fires(&p, "not at all really very angry"),
        "beyond the window"
    );
    let off = policy(
        r#"
[[categories]]
name = "legal"
target = "compliance"
priority = "immediate"
negation = false
keywords = ["lawyer"]
"#,
    );
    assert!(fires(&off, "I won't call my lawyer, not a lawyer"));
}

#[test]
fn one_stretch_of_text_counts_once() {
    let p = legal(
        r#""switching to a competitor", "switch to a competitor", "refund""#,
        "",
    );
    let d = Case::new("switching to a competitor, refund").eval(&p);
    assert_eq!(
        labels(&d),
        ["keyword:switching to a competitor", "keyword:refund"]
    );
}
