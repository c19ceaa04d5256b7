//! The built-in intent classifier: what does the customer want, do they ask about it or
//! ask for it, and do they say they do *not* want it.
//!
//! # Model
//! Two multinomial logistic regressions (softmax over a linear score) share one feature
//! vector per message (hashed word unigrams and bigrams, character 3- and 4-grams; see
//! `features.rs`): one over the intents of the training corpus, one over the three
//! [`SpeechAct`]s. Negation is a rule (`features::negated`): a negator shortly before a
//! word of wanting, in the same clause.
//!
//! # Training
//! Deterministic, in this crate, from the corpus the repository ships
//! (`data/intents/train.jsonl`, written by `data/intents/generate.py`; see
//! `data/intents/README.md`): plain stochastic gradient descent on the cross-entropy
//! (each class weighted alike, however many utterances it has),
//! the examples visited in a seeded pseudo-random order, a learning rate decaying per
//! epoch, a small L2 penalty. Same corpus, same model, on every machine: there is no
//! model file to go stale. [`IntentModel::builtin`] trains once per process on first use
//! (about a tenth of a second in a release build).
//!
//! # Calibration
//! The confidence is a softmax probability with a temperature: a first model is trained
//! without the calibration families (every template family whose index is 1 modulo 3),
//! the temperature that minimises the negative log-likelihood on those families is
//! searched on a grid, and the final model (trained on everything) keeps it. So a
//! confidence of 0.8 means about 8 in 10 right on phrasings the model never saw.
//!
//! # Speed
//! Classifying one message folds it, hashes about a hundred features and sums that many
//! rows of weights: a few microseconds (see `crates/tandem-policy/BENCHMARKS.md`).

pub(crate) mod features;

use async_trait::async_trait;
use features::{BUCKETS, Extractor, Feature};
use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use tandem_core::ai::{IntentClassifier, IntentSignal, SpeechAct};

/// The shipped training corpus (`data/intents/train.jsonl`).
pub const TRAINING_DATA: &str = include_str!("../../data/intents/train.jsonl");

/// The speech acts, in the order of the act model's outputs.
const ACTS: [SpeechAct; 3] = [
    SpeechAct::Question,
    SpeechAct::Request,
    SpeechAct::Statement,
];

/// Training settings (fixed: the model is a function of the corpus alone).
const EPOCHS: usize = 6;
const LEARNING_RATE: f32 = 0.8;
const DECAY: f32 = 0.25;
const L2: f32 = 1e-6;
const SEED: u64 = 0x7a6e_6465_6d31_3531;

/// One labelled training utterance.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct TrainingRow {
    /// The customer's words.
    pub text: String,
    /// The intent.
    pub intent: String,
    /// The speech act.
    pub act: SpeechAct,
    /// The template family within the intent (calibration uses every family ≡ 1 mod 3).
    #[serde(default)]
    pub family: u32,
}

/// Parses JSON Lines of [`TrainingRow`]s; an error names the line.
pub fn parse_training(jsonl: &str) -> Result<Vec<TrainingRow>, String> {
    jsonl
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", n + 1)))
        .collect()
}

/// A softmax regression over hashed features.
#[derive(Debug, Clone, PartialEq)]
struct Softmax {
    classes: usize,
    /// `BUCKETS × classes`, row-major by bucket.
    weights: Vec<f32>,
    bias: Vec<f32>,
    temperature: f32,
}

impl Softmax {
    fn new(classes: usize) -> Self {
        Softmax {
            classes,
            weights: vec![0.0; BUCKETS * classes],
            bias: vec![0.0; classes],
            temperature: 1.0,
        }
    }

    /// Raw scores (before the temperature) into `out`.
    fn scores(&self, xs: &[Feature], out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(&self.bias);
        for f in xs {
            let start = f.bucket as usize * self.classes;
            let row = &self.weights[start..start + self.classes];
            for (o, w) in out.iter_mut().zip(row) {
                *o += f.value * w;
            }
        }
    }

    /// Trains on `(features, label)` pairs by SGD. Each example's step is weighted by
    /// `n / (classes × count of its class)`, so that every class weighs the same in total
    /// however many utterances the corpus has for it.
    fn fit(classes: usize, data: &[(&[Feature], usize)]) -> Self {
        let mut m = Softmax::new(classes);
        let mut counts = vec![0usize; classes];
        for (_, y) in data {
            counts[*y] += 1;
        }
        let weight: Vec<f32> = counts
            .iter()
            .map(|&c| data.len() as f32 / (classes as f32 * c.max(1) as f32))
            .collect();
        let mut order: Vec<usize> = (0..data.len()).collect();
        let mut rng = SEED;
        let mut scores = Vec::with_capacity(classes);
        for epoch in 0..EPOCHS {
            shuffle(&mut order, &mut rng);
            let rate = LEARNING_RATE / (1.0 + DECAY * epoch as f32);
            for &i in &order {
                let (xs, y) = data[i];
                let lr = rate * weight[y];
                m.scores(xs, &mut scores);
                softmax(&mut scores, 1.0);
                scores[y] -= 1.0; // the gradient of the cross-entropy by the scores
                for f in xs {
                    let start = f.bucket as usize * classes;
                    let row = &mut m.weights[start..start + classes];
                    for (w, g) in row.iter_mut().zip(&scores) {
                        *w -= lr * (g * f.value + L2 * *w);
                    }
                }
                for (b, g) in m.bias.iter_mut().zip(&scores) {
                    *b -= lr * g;
                }
            }
        }
        m
    }

    /// The temperature (on a grid from 0.2 to 5) that minimises the negative
    /// log-likelihood of `data` under this model.
    fn fit_temperature(&self, data: &[(&[Feature], usize)]) -> f32 {
        if data.is_empty() {
            return 1.0;
        }
        let raw: Vec<(Vec<f32>, usize)> = data
            .iter()
            .map(|(xs, y)| {
                let mut s = Vec::new();
                self.scores(xs, &mut s);
                (s, *y)
            })
            .collect();
        let nll = |t: f32| -> f64 {
            raw.iter()
                .map(|(s, y)| {
                    let mut p = s.clone();
                    softmax(&mut p, t);
                    -f64::from(p[*y].max(1e-9)).ln()
                })
                .sum()
        };
        (4..=100)
            .map(|i| i as f32 * 0.05)
            .map(|t| (t, nll(t)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(1.0, |(t, _)| t)
    }

    /// Trains a model, its temperature fitted on the calibration rows first.
    fn fit_calibrated(classes: usize, data: &[(&[Feature], usize)], calibration: &[bool]) -> Self {
        let (fit_rows, cal_rows): (Vec<_>, Vec<_>) =
            data.iter().zip(calibration).partition(|(_, cal)| !**cal);
        let fit_rows: Vec<_> = fit_rows.into_iter().map(|(d, _)| *d).collect();
        let cal_rows: Vec<_> = cal_rows.into_iter().map(|(d, _)| *d).collect();
        let temperature = Softmax::fit(classes, &fit_rows).fit_temperature(&cal_rows);
        let mut m = Softmax::fit(classes, data);
        m.temperature = temperature;
        m
    }
}

/// In place: `scores` becomes `softmax(scores / t)`.
fn softmax(scores: &mut [f32], t: f32) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = ((*s - max) / t).exp();
        sum += *s;
    }
    for s in scores.iter_mut() {
        *s /= sum;
    }
}

/// Fisher-Yates with xorshift64: the same order on every machine.
fn shuffle(order: &mut [usize], state: &mut u64) {
    for i in (1..order.len()).rev() {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        let j = (*state % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
}

/// A trained intent model (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct IntentModel {
    intents: Vec<String>,
    intent: Softmax,
    act: Softmax,
}

thread_local! {
    static BUFFERS: RefCell<(Extractor, Vec<Feature>, Vec<f32>)> =
        RefCell::new((Extractor::default(), Vec::new(), Vec::new()));
}

impl IntentModel {
    /// The model trained on the shipped corpus, [`TRAINING_DATA`] (once per process).
    pub fn builtin() -> &'static IntentModel {
        static MODEL: OnceLock<IntentModel> = OnceLock::new();
        MODEL.get_or_init(|| match parse_training(TRAINING_DATA) {
            Ok(rows) => IntentModel::train(&rows),
            // The shipped corpus is checked by the tests; a broken build must not boot.
            Err(e) => panic!("data/intents/train.jsonl is invalid: {e}"),
        })
    }

    /// Trains a model on `rows` (deterministic: same rows, same model).
    pub fn train(rows: &[TrainingRow]) -> IntentModel {
        let mut intents: Vec<String> = rows.iter().map(|r| r.intent.clone()).collect();
        intents.sort();
        intents.dedup();
        let mut extractor = Extractor::default();
        let features: Vec<Vec<Feature>> = rows
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                extractor.extract(&r.text, &mut out);
                out
            })
            .collect();
        let calibration: Vec<bool> = rows.iter().map(|r| r.family % 3 == 1).collect();
        let by_intent: Vec<(&[Feature], usize)> = rows
            .iter()
            .zip(&features)
            .map(|(r, f)| {
                let y = intents.binary_search(&r.intent).unwrap_or(0);
                (f.as_slice(), y)
            })
            .collect();
        let by_act: Vec<(&[Feature], usize)> = rows
            .iter()
            .zip(&features)
            .map(|(r, f)| {
                let y = ACTS.iter().position(|a| *a == r.act).unwrap_or(2);
                (f.as_slice(), y)
            })
            .collect();
        IntentModel {
            intent: Softmax::fit_calibrated(intents.len().max(1), &by_intent, &calibration),
            act: Softmax::fit_calibrated(ACTS.len(), &by_act, &calibration),
            intents,
        }
    }

    /// The intents this model knows, sorted.
    pub fn intents(&self) -> &[String] {
        &self.intents
    }

    /// The fitted temperatures (intent, speech act).
    pub fn temperatures(&self) -> (f32, f32) {
        (self.intent.temperature, self.act.temperature)
    }

    /// Every intent with its probability for `text`, most likely first.
    pub fn probabilities(&self, text: &str) -> Vec<(&str, f32)> {
        let probs = BUFFERS.with(|b| {
            let mut b = b.borrow_mut();
            let (extractor, xs, scores) = &mut *b;
            extractor.extract(text, xs);
            self.intent.scores(xs, scores);
            softmax(scores, self.intent.temperature);
            scores.clone()
        });
        let mut ranked: Vec<(&str, f32)> =
            self.intents.iter().map(String::as_str).zip(probs).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked
    }

    /// Classifies one message.
    pub fn classify(&self, text: &str) -> IntentSignal {
        let (best, confidence, act, act_confidence) = BUFFERS.with(|b| {
            let mut b = b.borrow_mut();
            let (extractor, xs, scores) = &mut *b;
            extractor.extract(text, xs);
            self.intent.scores(xs, scores);
            softmax(scores, self.intent.temperature);
            let (best, confidence) = argmax(scores);
            self.act.scores(xs, scores);
            softmax(scores, self.act.temperature);
            let (act, act_confidence) = argmax(scores);
            (best, confidence, act, act_confidence)
        });
        IntentSignal {
            intent: self.intents.get(best).cloned().unwrap_or_default(),
            confidence,
            act: ACTS[act.min(ACTS.len() - 1)],
            act_confidence,
            negated: features::negated(text),
            call: None,
        }
    }
}

fn argmax(xs: &[f32]) -> (usize, f32) {
    xs.iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, p)| {
            if p > best.1 { (i, p) } else { best }
        })
}

/// The built-in [`IntentClassifier`]: an [`IntentModel`], by default the shipped one,
/// trained on first use (or ahead of it, [`BuiltinIntents::warm_up`]).
#[derive(Debug, Clone, Default)]
pub struct BuiltinIntents {
    /// `None`: the shipped model ([`IntentModel::builtin`]).
    model: Option<Arc<IntentModel>>,
}

impl BuiltinIntents {
    /// A classifier over the shipped model ([`IntentModel::builtin`]); nothing is
    /// trained until the first message (or [`BuiltinIntents::warm_up`]).
    pub fn new() -> Self {
        BuiltinIntents { model: None }
    }

    /// A classifier over `model`.
    pub fn with_model(model: IntentModel) -> Self {
        BuiltinIntents {
            model: Some(Arc::new(model)),
        }
    }

    /// Trains the shipped model on a background thread, so that the first customer
    /// message does not wait for it.
    pub fn warm_up(&self) {
        if self.model.is_none() {
            std::thread::spawn(|| {
                IntentModel::builtin();
            });
        }
    }

    /// The model.
    pub fn model(&self) -> &IntentModel {
        match &self.model {
            Some(m) => m,
            None => IntentModel::builtin(),
        }
    }
}

#[async_trait]
impl IntentClassifier for BuiltinIntents {
    async fn classify(&self, text: &str) -> Option<IntentSignal> {
        let mut signal = self.model().classify(text);
        signal.call = Some(tandem_core::ai::AiCall::new("builtin"));
        Some(signal)
    }
}
