//! The scorecard behind `tandem policy eval`: replays labelled conversations (the
//! `tandem policy test` format, each with `expect.escalate`, `expect.category` for
//! escalations, and optionally a `label`) and scores the decisions.
//!
//! * precision, recall and F1 of "escalate" (a conversation escalates when any of its
//!   messages does);
//! * false-escalation rate: the share of conversations that should not escalate but did;
//! * category accuracy: among conversations that should escalate and did, the share
//!   handed to the expected category.
//!
//! Overall, and per `label` (an intent for single messages; for conversations the
//! escalating turn's intent, or `routine`).

use crate::replay::{Case, Replay};
use serde::Serialize;
use std::collections::BTreeMap;

/// Counts behind one row of the scorecard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Conversations scored.
    pub total: usize,
    /// Should escalate, did.
    pub true_positive: usize,
    /// Should not escalate, did.
    pub false_positive: usize,
    /// Should escalate, did not.
    pub false_negative: usize,
    /// Should not escalate, did not.
    pub true_negative: usize,
    /// True positives handed to the expected category.
    pub category_right: usize,
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

impl Counts {
    /// Of the escalations, the share that should have escalated.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }

    /// Of the conversations that should escalate, the share that did.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }

    /// The harmonic mean of precision and recall.
    pub fn f1(&self) -> Option<f64> {
        ratio(
            2 * self.true_positive,
            2 * self.true_positive + self.false_positive + self.false_negative,
        )
    }

    /// Of the conversations that should not escalate, the share that did.
    pub fn false_escalation_rate(&self) -> Option<f64> {
        ratio(
            self.false_positive,
            self.false_positive + self.true_negative,
        )
    }

    /// Of the right escalations, the share with the expected category.
    pub fn category_accuracy(&self) -> Option<f64> {
        ratio(self.category_right, self.true_positive)
    }

    fn add(&mut self, expected: bool, got: bool, category_right: bool) {
        self.total += 1;
        match (expected, got) {
            (true, true) => {
                self.true_positive += 1;
                self.category_right += usize::from(category_right);
            }
            (false, true) => self.false_positive += 1,
            (true, false) => self.false_negative += 1,
            (false, false) => self.true_negative += 1,
        }
    }
}

/// A wrong decision, for the reader of the scorecard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Miss {
    /// The conversation's id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// What should have happened (`escalate revenue`, `bot keeps it`).
    pub expected: String,
    /// What happened, with the strongest reason.
    pub got: String,
    /// The last message replayed.
    pub text: String,
}

/// The scores of a labelled set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scorecard {
    /// Every conversation.
    pub overall: Counts,
    /// Per label.
    pub per_label: BTreeMap<String, Counts>,
    /// The wrong decisions.
    pub misses: Vec<Miss>,
}

fn describe(escalate: bool, category: Option<&str>) -> String {
    match (escalate, category) {
        (true, Some(c)) => format!("escalate {c}"),
        (true, None) => "escalate".into(),
        (false, _) => "bot keeps it".into(),
    }
}

impl Replay<'_> {
    /// Replays every labelled line of `input` and scores the decisions. Lines without
    /// `expect.escalate` are skipped; a line that cannot be read is an error.
    pub async fn evaluate(&self, input: &str) -> Result<Scorecard, String> {
        let mut card = Scorecard::default();
        for (n, line) in input.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let case: Case = serde_json::from_str(line)
                .map_err(|e| format!("line {}: not a conversation: {e}", n + 1))?;
            let Some(expect) = case.expect.as_ref() else {
                continue;
            };
            let Some(expected) = expect.escalate else {
                continue;
            };
            let got = self
                .run_case(&case)
                .await
                .map_err(|e| format!("line {}: {e}", n + 1))?;
            let category_right =
                expect.category.is_none() || expect.category.as_deref() == got.category.as_deref();
            let label = case.label.clone().unwrap_or_else(|| "unlabelled".into());
            card.overall.add(expected, got.escalate, category_right);
            card.per_label.entry(label.clone()).or_default().add(
                expected,
                got.escalate,
                category_right,
            );
            if expected != got.escalate || (expected && !category_right) {
                let upto = got
                    .at_message
                    .unwrap_or(case.messages.len().saturating_sub(1));
                card.misses.push(Miss {
                    id: case.id.clone(),
                    label,
                    expected: describe(expected, expect.category.as_deref()),
                    got: match got.reasons.first() {
                        Some(r) => format!(
                            "{} ({}: {})",
                            describe(got.escalate, got.category.as_deref()),
                            r.code,
                            r.evidence
                        ),
                        None => describe(got.escalate, got.category.as_deref()),
                    },
                    text: case
                        .messages
                        .get(upto)
                        .map(|m| m.text.clone())
                        .unwrap_or_default(),
                });
            }
        }
        Ok(card)
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.3}", v))
}

impl Scorecard {
    /// The scorecard as a plain-text table (overall first, then per label), then the misses.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "{:<22} {:>5} {:>9} {:>7} {:>6} {:>7} {:>9}\n",
            "label", "n", "precision", "recall", "f1", "false_esc", "category"
        ));
        let mut row = |name: &str, c: &Counts| {
            out.push_str(&format!(
                "{:<22} {:>5} {:>9} {:>7} {:>6} {:>7} {:>9}\n",
                name,
                c.total,
                pct(c.precision()),
                pct(c.recall()),
                pct(c.f1()),
                pct(c.false_escalation_rate()),
                pct(c.category_accuracy())
            ));
        };
        row("OVERALL", &self.overall);
        for (label, c) in &self.per_label {
            row(label, c);
        }
        if !self.misses.is_empty() {
            out.push_str(&format!("\n{} wrong decision(s):\n", self.misses.len()));
            for m in &self.misses {
                out.push_str(&format!(
                    "  {} [{}] expected {}, got {}: {}\n",
                    m.id, m.label, m.expected, m.got, m.text
                ));
            }
        }
        out
    }
}
