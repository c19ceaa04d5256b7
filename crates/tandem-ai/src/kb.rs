//! The knowledge base: intents with training phrases and answers, loaded from TOML
//! (`config/knowledge.toml` is the shipped sample; its comments document the format).
//!
//! Parsing walks the TOML tree by hand instead of deriving `Deserialize`, so that one pass
//! reports *every* problem (wrong types, missing or unknown keys, empty lists, unknown
//! slots, ambiguous phrases) with a dotted path such as `intents[3].phrases: empty`.

use crate::slots::SlotKind;
use crate::text;
use std::collections::HashMap;
use tandem_model::Button;
use toml::{Table, Value};

/// Confidence threshold used when the file does not set `threshold`.
pub const DEFAULT_THRESHOLD: f32 = 0.35;

/// The shipped sample knowledge base (`config/knowledge.toml`).
pub const BUILTIN_TOML: &str = include_str!("../../../config/knowledge.toml");

/// One problem found in a knowledge-base file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct KbError {
    /// Where: a dotted path to the offending value (`intents[3].phrases[0]`), or
    /// `line L, column C` for a TOML syntax error.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// A parsed, validated knowledge base.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeBase {
    /// Confidence in [0, 1] below which the bot answers with `fallback`.
    pub threshold: f32,
    /// Greeting for new conversations.
    pub greeting: Option<String>,
    /// Reply when no intent reaches the threshold.
    pub fallback: String,
    /// Buttons offered with the fallback reply.
    pub fallback_buttons: Vec<Button>,
    /// The intents, in file order.
    pub intents: Vec<Intent>,
}

/// One intent: what customers say, and what the bot answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    /// Unique snake_case name (`order_status`); reported as `BotAnswer::intent`.
    pub name: String,
    /// Training phrases.
    pub phrases: Vec<String>,
    /// The reply; may reference the needed slot as `{order_number}`.
    pub answer: String,
    /// Buttons offered with the reply.
    pub buttons: Vec<Button>,
    /// A slot the answer needs; when it is missing the bot replies with `ask` instead.
    pub answer_needs: Option<SlotKind>,
    /// The question asked when `answer_needs` is missing (set iff `answer_needs` is).
    pub ask: Option<String>,
}

impl KnowledgeBase {
    /// The shipped sample knowledge base, [`BUILTIN_TOML`].
    pub fn builtin() -> Self {
        match Self::from_toml_str(BUILTIN_TOML) {
            Ok(kb) => kb,
            Err(errors) => panic!("config/knowledge.toml is invalid: {errors:?}"),
        }
    }

    /// Parses and validates a knowledge base, reporting all problems at once.
    pub fn from_toml_str(source: &str) -> Result<Self, Vec<KbError>> {
        let table: Table = match toml::from_str(source) {
            Ok(table) => table,
            Err(e) => {
                let path = match e.span() {
                    Some(span) => {
                        let before = &source[..span.start.min(source.len())];
                        let line = before.matches('\n').count() + 1;
                        let column =
                            before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                        format!("line {line}, column {column}")
                    }
                    None => "toml".to_owned(),
                };
                return Err(vec![KbError {
                    path,
                    message: e.message().trim().to_owned(),
                }]);
            }
        };
        let mut p = Problems::default();
        p.unknown_keys(
            &table,
            "",
            &[
                "threshold",
                "greeting",
                "fallback",
                "fallback_buttons",
                "intents",
            ],
        );
        let threshold = match table.get("threshold") {
            None => DEFAULT_THRESHOLD,
            Some(v) => match number(v) {
                Some(t) if (0.0..=1.0).contains(&t) => t as f32,
                _ => {
                    p.add("threshold", "must be a number between 0 and 1");
                    DEFAULT_THRESHOLD
                }
            },
        };
        let greeting = p.opt_text(&table, "", "greeting");
        let fallback = p.text(&table, "", "fallback").unwrap_or_default();
        let fallback_buttons = p.buttons(&table, "", "fallback_buttons");
        let mut intents = Vec::new();
        match table.get("intents") {
            None => p.add("intents", "missing"),
            Some(Value::Array(items)) if items.is_empty() => p.add("intents", "empty"),
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let path = format!("intents[{i}]");
                    match item {
                        Value::Table(t) => intents.push(p.intent(t, &path)),
                        _ => p.add(path, "must be a table"),
                    }
                }
            }
            Some(_) => p.add("intents", "must be an array of tables ([[intents]])"),
        }
        p.cross_checks(&intents);
        if p.0.is_empty() {
            Ok(KnowledgeBase {
                threshold,
                greeting,
                fallback,
                fallback_buttons,
                intents,
            })
        } else {
            Err(p.0)
        }
    }

    /// The intent with this name.
    pub fn intent(&self, name: &str) -> Option<&Intent> {
        self.intents.iter().find(|i| i.name == name)
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

/// The `{name}` placeholders of a template, in order.
pub(crate) fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else { break };
        let name = &rest[..close];
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            out.push(name);
            rest = &rest[close + 1..];
        }
    }
    out
}

/// Collects problems while the tree is walked.
#[derive(Default)]
struct Problems(Vec<KbError>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(KbError {
            path: path.into(),
            message: message.into(),
        });
    }

    fn unknown_keys(&mut self, table: &Table, base: &str, known: &[&str]) {
        for key in table.keys().filter(|k| !known.contains(&k.as_str())) {
            self.add(
                join(base, key),
                format!("unknown key (expected one of: {})", known.join(", ")),
            );
        }
    }

    /// A required, non-blank string.
    fn text(&mut self, table: &Table, base: &str, key: &str) -> Option<String> {
        if !table.contains_key(key) {
            self.add(join(base, key), "missing");
            return None;
        }
        self.opt_text(table, base, key)
    }

    /// An optional string that must not be blank when present.
    fn opt_text(&mut self, table: &Table, base: &str, key: &str) -> Option<String> {
        match table.get(key)? {
            Value::String(s) if s.trim().is_empty() => self.add(join(base, key), "empty"),
            Value::String(s) => return Some(s.clone()),
            _ => self.add(join(base, key), "must be a string"),
        }
        None
    }

    fn buttons(&mut self, table: &Table, base: &str, key: &str) -> Vec<Button> {
        let path = join(base, key);
        let items = match table.get(key) {
            None => return Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.add(path, "must be an array of {title, payload} tables");
                return Vec::new();
            }
        };
        let mut buttons = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{path}[{i}]");
            let Value::Table(t) = item else {
                self.add(path, "must be a {title, payload} table");
                continue;
            };
            self.unknown_keys(t, &path, &["title", "payload"]);
            let title = self.text(t, &path, "title");
            let payload = self.text(t, &path, "payload");
            if let (Some(title), Some(payload)) = (title, payload) {
                buttons.push(Button { title, payload });
            }
        }
        buttons
    }

    fn intent(&mut self, t: &Table, path: &str) -> Intent {
        self.unknown_keys(
            t,
            path,
            &[
                "name",
                "phrases",
                "answer",
                "buttons",
                "answer_needs",
                "ask",
            ],
        );
        let name = self.text(t, path, "name").unwrap_or_default();
        if !name.is_empty()
            && !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            self.add(join(path, "name"), "must be snake_case (a-z, 0-9, _)");
        }
        let mut phrases = Vec::new();
        let phrases_path = join(path, "phrases");
        match t.get("phrases") {
            None => self.add(phrases_path, "missing"),
            Some(Value::Array(items)) if items.is_empty() => self.add(phrases_path, "empty"),
            Some(Value::Array(items)) => {
                for (j, item) in items.iter().enumerate() {
                    let path = format!("{phrases_path}[{j}]");
                    match item {
                        Value::String(s) if text::terms(s).is_empty() => {
                            self.add(path, "has no words left once stopwords are removed")
                        }
                        Value::String(s) => phrases.push(s.clone()),
                        _ => self.add(path, "must be a string"),
                    }
                }
            }
            Some(_) => self.add(phrases_path, "must be an array of strings"),
        }
        let answer = self.text(t, path, "answer").unwrap_or_default();
        let buttons = self.buttons(t, path, "buttons");
        let answer_needs = match t.get("answer_needs") {
            None => None,
            Some(Value::String(s)) => {
                let kind = SlotKind::from_name(s);
                if kind.is_none() {
                    let known: Vec<_> = SlotKind::ALL.iter().map(|k| k.name()).collect();
                    let message = format!("unknown slot {s:?} (known: {})", known.join(", "));
                    self.add(join(path, "answer_needs"), message);
                }
                kind
            }
            Some(_) => {
                self.add(join(path, "answer_needs"), "must be a string");
                None
            }
        };
        let ask = self.opt_text(t, path, "ask");
        match (t.contains_key("answer_needs"), t.contains_key("ask")) {
            (true, false) => self.add(join(path, "ask"), "missing (required with answer_needs)"),
            (false, true) => self.add(join(path, "ask"), "only used together with answer_needs"),
            _ => {}
        }
        for slot in placeholders(&answer) {
            if answer_needs.map(SlotKind::name) != Some(slot) {
                let message = format!("uses {{{slot}}} but answer_needs is not \"{slot}\"");
                self.add(join(path, "answer"), message);
            }
        }
        Intent {
            name,
            phrases,
            answer,
            buttons,
            answer_needs,
            ask,
        }
    }

    /// Checks across intents: duplicate names, and phrases of different intents that
    /// are identical once normalised (the bot could not tell them apart).
    fn cross_checks(&mut self, intents: &[Intent]) {
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut seen: HashMap<Vec<String>, (usize, usize)> = HashMap::new();
        for (i, intent) in intents.iter().enumerate() {
            if !intent.name.is_empty() {
                let first = *names.entry(&intent.name).or_insert(i);
                if first != i {
                    let message = format!("duplicate of intents[{first}].name");
                    self.add(format!("intents[{i}].name"), message);
                }
            }
            for (j, phrase) in intent.phrases.iter().enumerate() {
                let mut key = text::terms(phrase);
                key.sort();
                key.dedup();
                match seen.get(&key) {
                    Some(&(k, l)) if k != i => self.add(
                        format!("intents[{i}].phrases[{j}]"),
                        format!(
                            "same words as intents[{k}].phrases[{l}] ({})",
                            intents[k].name
                        ),
                    ),
                    Some(_) => {}
                    None => {
                        seen.insert(key, (i, j));
                    }
                }
            }
        }
    }
}
