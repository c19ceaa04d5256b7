//! The policy file as written (`config/policy.toml`): serde shapes, defaults, and the
//! validation that reports **every** problem with its path (`categories[2].priority:
//! unknown priority "urgent" ...`). Compilation (`engine.rs`) only ever sees a spec that
//! passed [`parse`].

use crate::text::normalize;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Dotted path of the offending key (`categories[0].target`), or `line N` for syntax errors.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for PolicyError {}

/// A handoff priority, `immediate` > `high` > `medium` > `low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Within the day.
    Low,
    /// Within minutes.
    Medium,
    /// Soon.
    High,
    /// Now.
    Immediate,
}

impl Priority {
    /// Parses `immediate`, `high`, `medium` or `low`.
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s {
            "immediate" => Priority::Immediate,
            "high" => Priority::High,
            "medium" => Priority::Medium,
            "low" => Priority::Low,
            _ => return None,
        })
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Immediate => "immediate",
            Priority::High => "high",
            Priority::Medium => "medium",
            Priority::Low => "low",
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PolicySpec {
    pub matching: MatchingSpec,
    pub questions: QuestionsSpec,
    pub intents: IntentsSpec,
    pub triggers: TriggerSpec,
    pub routes: RoutesSpec,
    pub distress: DistressSpec,
    pub segment_attributes: Option<Vec<String>>,
    pub segments: BTreeMap<String, SegmentSpec>,
    pub categories: Vec<CategorySpec>,
    pub events: Vec<EventSpec>,
}

/// `[matching]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MatchingSpec {
    pub fuzzy_min_len: Option<usize>,
    pub negation_window: Option<usize>,
    pub negators: Option<Vec<String>>,
    pub not_typos: Vec<String>,
}

/// `[questions]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct QuestionsSpec {
    pub defer: Option<bool>,
    pub min_confidence: Option<f64>,
    pub starters: Option<Vec<String>>,
}

/// `[intents]`: how the intent classifier's answers are read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct IntentsSpec {
    pub routine: Vec<String>,
    pub routine_min_confidence: Option<f64>,
}

/// `[triggers]`, and the same keys in `[segments.<name>.triggers]` (overrides).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TriggerSpec {
    pub intent_min_confidence: Option<f64>,
    pub negative_below: Option<f64>,
    pub sentiment_streak: Option<u32>,
    pub fallback_rephrase_at: Option<u32>,
    pub fallback_offer_at: Option<u32>,
    pub fallback_handoff_at: Option<u32>,
    pub low_confidence_below: Option<f64>,
    pub distress_min_signals: Option<u32>,
    pub ai_first: Option<bool>,
    pub repeat_contact_count: Option<u32>,
    pub repeat_contact_days: Option<u32>,
    pub repeat_contact_ignore: Option<Vec<String>>,
    pub inactivity_check_in_secs: Option<u64>,
    pub inactivity_handoff_secs: Option<u64>,
}

/// `[routes]`: the category each behavioural trigger hands off to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RoutesSpec {
    pub sentiment_streak: Option<String>,
    pub fallback_loop: Option<String>,
    pub repeat_contact: Option<String>,
    pub inactivity: Option<String>,
    pub distress: Option<String>,
}

/// `[distress]`: signals of a distressed customer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DistressSpec {
    pub caps_ratio: Option<f64>,
    pub caps_min_letters: Option<usize>,
    pub exclamation_run: Option<usize>,
    pub max_sentiment: Option<f64>,
    pub mild: Vec<String>,
    pub profanity: Vec<String>,
    pub profanity_weight: Option<u32>,
}

/// `[segments.<name>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SegmentSpec {
    pub names: Vec<String>,
    pub vip: bool,
    pub min_priority: Option<String>,
    pub triggers: TriggerSpec,
}

/// `[[categories]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CategorySpec {
    pub name: String,
    pub target: String,
    pub priority: String,
    pub code: Option<String>,
    pub negation: Option<bool>,
    pub defer_questions: bool,
    pub yield_to_routine: Option<bool>,
    pub bot_first: bool,
    pub intent_min_confidence: Option<f64>,
    pub keywords: Vec<String>,
    pub intents: Vec<String>,
    pub groups: Vec<GroupSpec>,
}

/// `[[categories.groups]]`: keywords and intents with their own target or priority.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct GroupSpec {
    pub name: Option<String>,
    pub target: Option<String>,
    pub priority: Option<String>,
    pub negation: Option<bool>,
    pub yield_to_routine: Option<bool>,
    pub keywords: Vec<String>,
    pub intents: Vec<String>,
}

/// `[[events]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EventSpec {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub count: u32,
    pub within_hours: f64,
    pub category: String,
}

#[derive(Default)]
pub(crate) struct Errors(pub Vec<PolicyError>);

impl Errors {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(PolicyError {
            path: path.into(),
            message: message.into(),
        });
    }
}

/// Parses and validates policy text. On success, the spec and its canonical form (for the
/// version hash).
pub(crate) fn parse(text: &str) -> Result<(PolicySpec, toml::Value), Vec<PolicyError>> {
    let mut errors = Errors::default();
    let value: toml::Value = match text.parse::<toml::Table>() {
        Ok(t) => toml::Value::Table(t),
        Err(e) => {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            let path = line.map_or_else(String::new, |l| format!("line {l}"));
            errors.push(path, format!("not valid TOML: {}", e.message()));
            return Err(errors.0);
        }
    };
    let mut unknown = Vec::new();
    let spec: PolicySpec = match serde_ignored::deserialize(value.clone(), |p| {
        unknown.push(bracket_path(&p.to_string()))
    }) {
        Ok(s) => s,
        Err(e) => {
            errors.0.extend(unknown.into_iter().map(|p| PolicyError {
                path: p,
                message: "unknown key".into(),
            }));
            errors.push("", e.to_string().trim().to_owned());
            return Err(errors.0);
        }
    };
    for p in unknown {
        errors.push(p, "unknown key");
    }
    validate(&spec, &mut errors);
    if errors.0.is_empty() {
        Ok((spec, value))
    } else {
        Err(errors.0)
    }
}

/// `categories.0.groups.1.x` → `categories[0].groups[1].x`.
fn bracket_path(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for (i, seg) in p.split('.').enumerate() {
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{seg}]"));
        } else {
            if i > 0 {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

fn is_snake(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.as_bytes()[0].is_ascii_lowercase()
}

fn check_fraction(errors: &mut Errors, path: &str, v: Option<f64>, lo: f64, hi: f64) {
    if let Some(v) = v
        && !(lo..=hi).contains(&v)
    {
        errors.push(path, format!("must be between {lo} and {hi}"));
    }
}

fn check_words(errors: &mut Errors, path: &str, list: &[String]) {
    let mut seen: Vec<String> = Vec::new();
    for (i, k) in list.iter().enumerate() {
        let n = normalize(k).replace(crate::text::BREAK, " ");
        let n = n.split_whitespace().collect::<Vec<_>>().join(" ");
        if n.is_empty() {
            errors.push(
                format!("{path}[{i}]"),
                "has no words left after normalisation",
            );
        } else if let Some(j) = seen.iter().position(|s| *s == n) {
            errors.push(format!("{path}[{i}]"), format!("duplicate of {path}[{j}]"));
        }
        seen.push(n);
    }
}

fn check_priority(errors: &mut Errors, path: &str, p: &str) {
    if p.is_empty() {
        errors.push(path, "missing (immediate, high, medium or low)");
    } else if Priority::parse(p).is_none() {
        errors.push(
            path,
            format!("unknown priority {p:?} (expected immediate, high, medium or low)"),
        );
    }
}

fn check_triggers(errors: &mut Errors, path: &str, t: &TriggerSpec) {
    check_fraction(
        errors,
        &format!("{path}.intent_min_confidence"),
        t.intent_min_confidence,
        0.0,
        1.0,
    );
    check_fraction(
        errors,
        &format!("{path}.negative_below"),
        t.negative_below,
        -1.0,
        1.0,
    );
    check_fraction(
        errors,
        &format!("{path}.low_confidence_below"),
        t.low_confidence_below,
        0.0,
        1.0,
    );
    for (name, v) in [
        ("repeat_contact_days", t.repeat_contact_days),
        ("distress_min_signals", t.distress_min_signals),
    ] {
        if v == Some(0) {
            errors.push(format!("{path}.{name}"), "must be at least 1");
        }
    }
    if let (Some(a), Some(b)) = (t.fallback_rephrase_at, t.fallback_handoff_at)
        && a != 0
        && b != 0
        && a >= b
    {
        errors.push(
            format!("{path}.fallback_rephrase_at"),
            "must be below fallback_handoff_at",
        );
    }
    if let (Some(a), Some(b)) = (t.fallback_offer_at, t.fallback_handoff_at)
        && a != 0
        && b != 0
        && a >= b
    {
        errors.push(
            format!("{path}.fallback_offer_at"),
            "must be below fallback_handoff_at",
        );
    }
    if let Some(list) = &t.repeat_contact_ignore {
        for (i, s) in list.iter().enumerate() {
            if !is_snake(s) {
                errors.push(
                    format!("{path}.repeat_contact_ignore[{i}]"),
                    "must be a snake_case intent name",
                );
            }
        }
    }
}

fn validate(spec: &PolicySpec, errors: &mut Errors) {
    let m = &spec.matching;
    if let Some(w) = m.negation_window
        && w > 10
    {
        errors.push("matching.negation_window", "must be at most 10");
    }
    if let Some(list) = &m.negators {
        check_words(errors, "matching.negators", list);
    }
    check_words(errors, "matching.not_typos", &m.not_typos);
    check_fraction(
        errors,
        "questions.min_confidence",
        spec.questions.min_confidence,
        0.0,
        1.0,
    );
    if let Some(list) = &spec.questions.starters {
        check_words(errors, "questions.starters", list);
    }
    check_fraction(
        errors,
        "intents.routine_min_confidence",
        spec.intents.routine_min_confidence,
        0.0,
        1.0,
    );
    check_triggers(errors, "triggers", &spec.triggers);
    let d = &spec.distress;
    check_fraction(errors, "distress.caps_ratio", d.caps_ratio, 0.0, 1.0);
    check_fraction(errors, "distress.max_sentiment", d.max_sentiment, -1.0, 1.0);
    check_words(errors, "distress.mild", &d.mild);
    check_words(errors, "distress.profanity", &d.profanity);
    if d.exclamation_run == Some(0) {
        errors.push("distress.exclamation_run", "must be at least 1");
    }

    if spec.categories.is_empty() {
        errors.push(
            "categories",
            "missing: a policy needs at least one category",
        );
    }
    let names: Vec<&str> = spec.categories.iter().map(|c| c.name.as_str()).collect();
    let mut intents: BTreeMap<String, String> = BTreeMap::new();
    for (i, c) in spec.categories.iter().enumerate() {
        let path = format!("categories[{i}]");
        if c.name.is_empty() {
            errors.push(format!("{path}.name"), "missing");
        } else if !is_snake(&c.name) {
            errors.push(format!("{path}.name"), "must be snake_case");
        } else if let Some(j) = names[..i].iter().position(|n| *n == c.name) {
            errors.push(
                format!("{path}.name"),
                format!("duplicate of categories[{j}].name"),
            );
        }
        if c.target.trim().is_empty() {
            errors.push(format!("{path}.target"), "missing");
        }
        check_priority(errors, &format!("{path}.priority"), &c.priority);
        if let Some(code) = &c.code
            && !is_snake(code)
        {
            errors.push(format!("{path}.code"), "must be a snake_case trigger code");
        }
        check_fraction(
            errors,
            &format!("{path}.intent_min_confidence"),
            c.intent_min_confidence,
            0.0,
            1.0,
        );
        check_group(errors, &mut intents, &path, &c.keywords, &c.intents);
        for (g, group) in c.groups.iter().enumerate() {
            let gpath = format!("{path}.groups[{g}]");
            check_group(
                errors,
                &mut intents,
                &gpath,
                &group.keywords,
                &group.intents,
            );
            if let Some(p) = &group.priority {
                check_priority(errors, &format!("{gpath}.priority"), p);
            }
            if group.target.as_deref().is_some_and(|t| t.trim().is_empty()) {
                errors.push(format!("{gpath}.target"), "empty");
            }
        }
    }
    for (i, intent) in spec.intents.routine.iter().enumerate() {
        let p = format!("intents.routine[{i}]");
        if !is_snake(intent) {
            errors.push(p, "must be a snake_case intent name");
        } else if let Some(first) = intents.get(intent) {
            errors.push(
                p,
                format!(
                    "intent {intent:?} is mapped to a category by {first}: it cannot be routine"
                ),
            );
        } else if let Some(j) = spec.intents.routine[..i].iter().position(|r| r == intent) {
            errors.push(p, format!("duplicate of intents.routine[{j}]"));
        }
    }
    let known = |n: &str| names.contains(&n);
    let r = &spec.routes;
    for (key, v) in [
        ("sentiment_streak", &r.sentiment_streak),
        ("fallback_loop", &r.fallback_loop),
        ("repeat_contact", &r.repeat_contact),
        ("inactivity", &r.inactivity),
        ("distress", &r.distress),
    ] {
        match v {
            Some(n) if !known(n) => {
                errors.push(format!("routes.{key}"), format!("unknown category {n:?}"))
            }
            None if !spec.categories.is_empty() && !known(default_route(key)) => errors.push(
                format!("routes.{key}"),
                format!(
                    "missing (the default {:?} is not a category)",
                    default_route(key)
                ),
            ),
            _ => {}
        }
    }
    if let Some(attrs) = &spec.segment_attributes
        && attrs.iter().any(|a| a.trim().is_empty())
    {
        errors.push("segment_attributes", "attribute names must not be empty");
    }
    let mut segment_names: BTreeMap<String, String> = BTreeMap::new();
    for (key, s) in &spec.segments {
        let path = format!("segments.{key}");
        let names = if s.names.is_empty() {
            std::slice::from_ref(key)
        } else {
            &s.names[..]
        };
        for (i, n) in names.iter().enumerate() {
            let n = n.trim().to_lowercase();
            if n.is_empty() {
                errors.push(format!("{path}.names[{i}]"), "empty");
            } else if let Some(other) = segment_names.get(&n) {
                errors.push(
                    format!("{path}.names[{i}]"),
                    format!("{n:?} is already a name of {other}"),
                );
            } else {
                segment_names.insert(n, path.clone());
            }
        }
        if let Some(p) = &s.min_priority {
            check_priority(errors, &format!("{path}.min_priority"), p);
        }
        if s.triggers.negative_below.is_some() {
            errors.push(
                format!("{path}.triggers.negative_below"),
                "can only be set in [triggers]",
            );
        }
        check_triggers(errors, &format!("{path}.triggers"), &s.triggers);
    }
    for (i, e) in spec.events.iter().enumerate() {
        let path = format!("events[{i}]");
        if e.kind.trim().is_empty() {
            errors.push(format!("{path}.type"), "missing");
        }
        if e.count == 0 {
            errors.push(format!("{path}.count"), "missing (at least 1)");
        }
        if e.within_hours.is_nan() || e.within_hours <= 0.0 {
            errors.push(format!("{path}.within_hours"), "missing (hours, above 0)");
        }
        if e.category.is_empty() {
            errors.push(format!("{path}.category"), "missing");
        } else if !known(&e.category) {
            errors.push(
                format!("{path}.category"),
                format!("unknown category {:?}", e.category),
            );
        }
    }
}

/// Checks the keywords and intents of a category or group; an intent maps to one place only.
fn check_group(
    errors: &mut Errors,
    intents: &mut BTreeMap<String, String>,
    path: &str,
    keywords: &[String],
    list: &[String],
) {
    check_words(errors, &format!("{path}.keywords"), keywords);
    for (k, intent) in list.iter().enumerate() {
        let p = format!("{path}.intents[{k}]");
        if !is_snake(intent) {
            errors.push(p, "must be a snake_case intent name");
        } else if let Some(first) = intents.get(intent) {
            errors.push(p, format!("intent {intent:?} is already mapped by {first}"));
        } else {
            intents.insert(intent.clone(), p);
        }
    }
}

/// The category a behavioural trigger routes to when `[routes]` does not say.
pub(crate) fn default_route(key: &str) -> &'static str {
    match key {
        "fallback_loop" | "inactivity" => "human_request",
        _ => "distress",
    }
}
