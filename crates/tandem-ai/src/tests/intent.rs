//! The built-in intent model.

use crate::{IntentModel, TRAINING_DATA, parse_training};
use tandem_core::ai::SpeechAct;

const HELDOUT: &str = include_str!("../../data/intents/heldout.jsonl");

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

#[test]
fn explore() {
    let t = std::time::Instant::now();
    let m = IntentModel::builtin();
    eprintln!("trained in {:?}, temps {:?}", t.elapsed(), m.temperatures());
    let rows = heldout();
    let mut right = 0;
    for (text, label) in &rows {
        let s = m.classify(text);
        if &s.intent == label {
            right += 1;
        } else {
            eprintln!("{label:>20} -> {:20} {:.2} {:?} | {text}", s.intent, s.confidence, s.act);
        }
    }
    eprintln!("accuracy {}/{} = {:.3}", right, rows.len(), right as f32 / rows.len() as f32);
    let _ = (parse_training(TRAINING_DATA), SpeechAct::Question);
}

#[test]
fn probe() {
    let m = IntentModel::builtin();
    for t in ["I need refunds for both orders", "Hi, Sue from accounting here. Where is my order?", "I reached out yesterday about my order", "please close my account", "I'm very angry", "this is useless", "still useless and slow", "agent please", "xyzzy plugh", "asdf qwerty"] {
        eprintln!("{t}: {:?}", &m.probabilities(t)[..3]);
    }
}

#[test]
fn calibration_fold() {
    let rows = parse_training(TRAINING_DATA).unwrap();
    let (cal, fit): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.family % 3 == 1);
    let m = IntentModel::train(&fit);
    let right = cal.iter().filter(|r| m.classify(&r.text).intent == r.intent).count();
    eprintln!("calibration-fold accuracy {:.3}", right as f32 / cal.len() as f32);
}
