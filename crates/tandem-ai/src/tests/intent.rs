//! The built-in intent model: the shipped corpus, training, calibration, speech acts and
//! negation.

use crate::intent::features::negated;
use crate::{IntentModel, TRAINING_DATA, TrainingRow, parse_training};
use tandem_core::ai::SpeechAct;

const HELDOUT: &str = include_str!("../../data/intents/heldout.jsonl");
const POLICY: &str = include_str!("../../../../config/policy.toml");

/// (text, label) of the held-out single messages.
fn heldout() -> Vec<(String, String)> {
    HELDOUT
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["messages"][0]["text"].as_str().unwrap().to_owned(),
                v["label"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn words(t: &str) -> String {
    crate::text::fold(t)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_held_out_split_shares_no_utterance_with_training() {
    let train: std::collections::HashSet<String> = parse_training(TRAINING_DATA)
        .unwrap()
        .iter()
        .map(|r| words(&r.text))
        .collect();
    let shared: Vec<String> = heldout()
        .into_iter()
        .map(|(t, _)| t)
        .filter(|t| train.contains(&words(t)))
        .collect();
    assert!(shared.is_empty(), "held-out texts in training: {shared:?}");
}

#[test]
fn the_model_knows_every_intent_the_default_policy_names() {
    let model = IntentModel::builtin();
    let policy: toml::Table = POLICY.parse().unwrap();
    let routine = policy["intents"]["routine"].as_array().unwrap();
    for name in routine.iter().map(|v| v.as_str().unwrap()) {
        assert!(model.intents().iter().any(|i| i == name), "{name}");
    }
    for name in [
        "human_request",
        "complaint",
        "refund_demand",
        "payment_problem",
        "account_deletion",
        "legal_threat",
        "cancellation",
    ] {
        assert!(model.intents().iter().any(|i| i == name), "{name}");
    }
}

#[test]
fn training_is_deterministic() {
    let rows: Vec<TrainingRow> = parse_training(TRAINING_DATA)
        .unwrap()
        .into_iter()
        .step_by(7)
        .collect();
    assert_eq!(IntentModel::train(&rows), IntentModel::train(&rows));
}

#[test]
fn look_alikes_are_told_apart_with_their_speech_act() {
    let m = IntentModel::builtin();
    for (text, intent, act) in [
        ("how do refunds work?", "refund_policy", SpeechAct::Question),
        ("I want my money back", "refund_demand", SpeechAct::Request),
        (
            "I was charged twice",
            "payment_problem",
            SpeechAct::Statement,
        ),
        (
            "what payment methods do you take?",
            "payment_methods",
            SpeechAct::Question,
        ),
        ("cancel my subscription", "cancellation", SpeechAct::Request),
        (
            "can I speak to a real person?",
            "human_request",
            SpeechAct::Question,
        ),
    ] {
        let s = m.classify(text);
        assert_eq!((s.intent.as_str(), s.act), (intent, act), "{text}: {s:?}");
        assert!(s.confidence > 0.5, "{text}: {s:?}");
    }
}

#[test]
fn held_out_accuracy_and_calibration() {
    let m = IntentModel::builtin();
    let rows = heldout();
    let (mut right, mut confidence) = (0usize, 0f64);
    for (text, label) in &rows {
        let s = m.classify(text);
        right += usize::from(&s.intent == label);
        confidence += f64::from(s.confidence);
    }
    let n = rows.len() as f64;
    let (accuracy, confidence) = (right as f64 / n, confidence / n);
    // Phrasings never seen in training: most are right, and the mean confidence is an
    // honest estimate of how many.
    assert!(accuracy >= 0.75, "accuracy {accuracy:.3}");
    assert!(
        (confidence - accuracy).abs() <= 0.1,
        "mean confidence {confidence:.3} vs accuracy {accuracy:.3}"
    );
}

#[test]
fn negation_is_a_negated_wish_in_the_same_clause() {
    for text in [
        "I don't want to cancel, just asking about the fee",
        "no need for a human, what are your opening hours?",
        "I'm not looking for a refund",
    ] {
        assert!(negated(text), "{text}");
    }
    for text in [
        "I can't log in",
        "I want to cancel",
        "it's not working, I want to cancel",
        "I don't know. I want a refund",
    ] {
        assert!(!negated(text), "{text}");
    }
    let s = IntentModel::builtin().classify("I don't want to cancel my plan");
    assert!(s.negated);
}
