//! [`PolicyEngine`]: a validated policy compiled for evaluation. Compilation happens once
//! per policy version ([`PolicyEngine::from_toml_str`]); evaluation is pure and
//! allocation-light (reused thread-local buffers; strings are allocated only for the
//! reasons of triggers that fire).

use crate::matcher::{Keyword, Matcher, MatcherSpec, Owner, Scratch};
use crate::spec::{self, PolicyError, PolicySpec, Priority, TriggerSpec};
use crate::version::content_hash;
use std::cell::RefCell;
use std::collections::HashMap;

/// Default negators (single words, normalised: apostrophes dropped).
pub(crate) const DEFAULT_NEGATORS: &[&str] = &[
    "not", "no", "never", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "without",
    "nor", "hardly", "neither",
];

/// Default question starters.
pub(crate) const DEFAULT_STARTERS: &[&str] = &[
    "how", "what", "whats", "when", "where", "which", "who", "why", "do", "does", "is", "are",
    "can", "could", "will", "would", "should",
];

/// The thresholds in force for one segment.
#[derive(Debug, Clone)]
pub(crate) struct Triggers {
    pub intent_min_confidence: f32,
    pub sentiment_streak: u32,
    pub fallback_rephrase_at: u32,
    pub fallback_offer_at: u32,
    pub fallback_handoff_at: u32,
    pub low_confidence_below: f32,
    pub distress_min_signals: u32,
    pub ai_first: bool,
    pub repeat_contact_count: u32,
    pub repeat_contact_days: u32,
    pub repeat_contact_ignore: Vec<String>,
    pub inactivity_check_in_secs: u64,
    pub inactivity_handoff_secs: u64,
}

impl Default for Triggers {
    fn default() -> Self {
        Triggers {
            intent_min_confidence: 0.5,
            sentiment_streak: 2,
            fallback_rephrase_at: 1,
            fallback_offer_at: 2,
            fallback_handoff_at: 3,
            low_confidence_below: 0.7,
            distress_min_signals: 2,
            ai_first: false,
            repeat_contact_count: 3,
            repeat_contact_days: 7,
            repeat_contact_ignore: ["greeting", "thanks", "goodbye", "help"]
                .map(str::to_owned)
                .to_vec(),
            inactivity_check_in_secs: 120,
            inactivity_handoff_secs: 0,
        }
    }
}

impl Triggers {
    fn apply(&self, o: &TriggerSpec) -> Triggers {
        let t = self.clone();
        Triggers {
            intent_min_confidence: o
                .intent_min_confidence
                .map_or(t.intent_min_confidence, |v| v as f32),
            sentiment_streak: o.sentiment_streak.unwrap_or(t.sentiment_streak),
            fallback_rephrase_at: o.fallback_rephrase_at.unwrap_or(t.fallback_rephrase_at),
            fallback_offer_at: o.fallback_offer_at.unwrap_or(t.fallback_offer_at),
            fallback_handoff_at: o.fallback_handoff_at.unwrap_or(t.fallback_handoff_at),
            low_confidence_below: o
                .low_confidence_below
                .map_or(t.low_confidence_below, |v| v as f32),
            distress_min_signals: o.distress_min_signals.unwrap_or(t.distress_min_signals),
            ai_first: o.ai_first.unwrap_or(t.ai_first),
            repeat_contact_count: o.repeat_contact_count.unwrap_or(t.repeat_contact_count),
            repeat_contact_days: o.repeat_contact_days.unwrap_or(t.repeat_contact_days),
            repeat_contact_ignore: o
                .repeat_contact_ignore
                .clone()
                .unwrap_or(t.repeat_contact_ignore),
            inactivity_check_in_secs: o
                .inactivity_check_in_secs
                .unwrap_or(t.inactivity_check_in_secs),
            inactivity_handoff_secs: o
                .inactivity_handoff_secs
                .unwrap_or(t.inactivity_handoff_secs),
        }
    }
}

/// A category: where its handoffs go.
#[derive(Debug, Clone)]
pub(crate) struct Category {
    pub name: String,
    pub code: String,
    pub defer_questions: bool,
    pub bot_first: bool,
    pub intent_min_confidence: Option<f32>,
}

/// Keywords and intents of a category with one target and priority.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub category: usize,
    pub target: String,
    pub priority: Priority,
    pub negation: bool,
    /// Whether its keywords stay silent when the classifier is confident the message is
    /// a routine intent.
    pub yield_to_routine: bool,
}

/// Segment overrides, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub key: String,
    pub names: Vec<String>,
    pub vip: bool,
    pub min_priority: Option<Priority>,
    pub triggers: Triggers,
}

/// Behavioural triggers' categories (indices).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Routes {
    pub sentiment_streak: usize,
    pub fallback_loop: usize,
    pub repeat_contact: usize,
    pub inactivity: usize,
    pub distress: usize,
}

/// Distress signal settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Distress {
    pub caps_ratio: f32,
    pub caps_min_letters: usize,
    pub exclamation_run: usize,
    pub max_sentiment: f32,
    pub profanity_weight: u32,
}

/// An event rule.
#[derive(Debug, Clone)]
pub(crate) struct EventRule {
    pub name: String,
    pub kind: String,
    pub count: u32,
    pub within: time::Duration,
    pub category: usize,
}

/// The escalation policy engine: a validated, compiled policy. Implements
/// [`tandem_core::policy::EscalationPolicy`] (see `evaluate.rs`).
#[derive(Debug, Clone)]
pub struct PolicyEngine {
    pub(crate) version: String,
    pub(crate) negative_below: f32,
    pub(crate) categories: Vec<Category>,
    pub(crate) groups: Vec<Group>,
    pub(crate) intents: HashMap<String, usize>,
    /// The classifier's routine intents (`[intents].routine`).
    pub(crate) routine: Vec<String>,
    pub(crate) routine_min_confidence: f32,
    pub(crate) matcher: Matcher,
    pub(crate) question_defer: bool,
    pub(crate) question_min_confidence: f32,
    pub(crate) starters: Vec<String>,
    pub(crate) base: Segment,
    pub(crate) segments: Vec<Segment>,
    pub(crate) segment_attributes: Vec<String>,
    pub(crate) routes: Routes,
    pub(crate) distress: Distress,
    pub(crate) events: Vec<EventRule>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        // Re-entered (cannot happen today): use fresh buffers rather than panic.
        Err(_) => f(&mut Scratch::default()),
    })
}

impl PolicyEngine {
    /// Parses, validates and compiles a policy. On failure, **every** problem with its path.
    pub fn from_toml_str(text: &str) -> Result<PolicyEngine, Vec<PolicyError>> {
        let (spec, canonical) = spec::parse(text)?;
        compile(&spec, content_hash(&canonical)).map_err(|message| {
            vec![PolicyError {
                path: String::new(),
                message,
            }]
        })
    }

    /// The shipped default policy (`config/policy.toml`, embedded at build time).
    pub fn builtin() -> PolicyEngine {
        match Self::from_toml_str(crate::DEFAULT_POLICY) {
            Ok(p) => p,
            // The shipped file is checked by the tests; a broken build must not boot.
            Err(errors) => panic!("the built-in policy is invalid: {errors:?}"),
        }
    }

    /// The version: `sha256:` and the first 16 hex digits of the hash of the file's
    /// normalised content (comments, key order and formatting do not change it).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The category names, in file order.
    pub fn categories(&self) -> impl Iterator<Item = &str> {
        self.categories.iter().map(|c| c.name.as_str())
    }

    /// The segment a customer falls in (`None`: the defaults apply).
    pub(crate) fn segment_of(&self, customer: &tandem_core::store::CustomerRecord) -> &Segment {
        let matches = |s: &str| {
            self.segments
                .iter()
                .find(|seg| seg.names.iter().any(|n| n.eq_ignore_ascii_case(s.trim())))
        };
        if let Some(seg) = customer.segment.as_deref().and_then(matches) {
            return seg;
        }
        for attr in &self.segment_attributes {
            if let Some(seg) = customer
                .attributes
                .get(attr)
                .and_then(|v| v.as_str())
                .and_then(matches)
            {
                return seg;
            }
        }
        &self.base
    }
}

fn compile(spec: &PolicySpec, version: String) -> Result<PolicyEngine, String> {
    let prio = |p: &str| Priority::parse(p).unwrap_or(Priority::Medium);
    let mut categories = Vec::new();
    let mut groups = Vec::new();
    let mut intents = HashMap::new();
    let mut keywords = Vec::new();
    for (ci, c) in spec.categories.iter().enumerate() {
        categories.push(Category {
            name: c.name.clone(),
            code: c.code.clone().unwrap_or_else(|| "keyword".into()),
            defer_questions: c.defer_questions,
            bot_first: c.bot_first,
            intent_min_confidence: c.intent_min_confidence.map(|v| v as f32),
        });
        let negation = c.negation.unwrap_or(true);
        let yields = c.yield_to_routine.unwrap_or(true);
        let mut add_group = |target: &str,
                             priority: Priority,
                             (negation, yield_to_routine): (bool, bool),
                             kws: &[String],
                             ints: &[String]| {
            let g = groups.len();
            groups.push(Group {
                category: ci,
                target: target.trim().to_owned(),
                priority,
                negation,
                yield_to_routine,
            });
            keywords.extend(kws.iter().map(|k| Keyword {
                text: k.clone(),
                owner: Owner::Group(g),
            }));
            for i in ints {
                intents.insert(i.clone(), g);
            }
        };
        add_group(
            &c.target,
            prio(&c.priority),
            (negation, yields),
            &c.keywords,
            &c.intents,
        );
        for g in &c.groups {
            add_group(
                g.target.as_deref().unwrap_or(&c.target),
                g.priority.as_deref().map_or(prio(&c.priority), prio),
                (
                    g.negation.unwrap_or(negation),
                    g.yield_to_routine.unwrap_or(yields),
                ),
                &g.keywords,
                &g.intents,
            );
        }
    }
    let d = &spec.distress;
    keywords.extend(d.mild.iter().map(|k| Keyword {
        text: k.clone(),
        owner: Owner::Mild,
    }));
    keywords.extend(d.profanity.iter().map(|k| Keyword {
        text: k.clone(),
        owner: Owner::Profanity,
    }));
    let negators: Vec<String> = spec
        .matching
        .negators
        .clone()
        .unwrap_or_else(|| DEFAULT_NEGATORS.iter().map(|s| (*s).to_owned()).collect());
    let matcher = Matcher::build(MatcherSpec {
        keywords,
        fuzzy_min_len: spec.matching.fuzzy_min_len.unwrap_or(7),
        not_typos: &spec.matching.not_typos,
        negators: &negators,
        negation_window: spec.matching.negation_window.unwrap_or(3),
    })?;
    let index = |name: &str| {
        categories
            .iter()
            .position(|c: &Category| c.name == name)
            .unwrap_or(0)
    };
    let route =
        |v: &Option<String>, key: &str| index(v.as_deref().unwrap_or(spec::default_route(key)));
    let r = &spec.routes;
    let routes = Routes {
        sentiment_streak: route(&r.sentiment_streak, "sentiment_streak"),
        fallback_loop: route(&r.fallback_loop, "fallback_loop"),
        repeat_contact: route(&r.repeat_contact, "repeat_contact"),
        inactivity: route(&r.inactivity, "inactivity"),
        distress: route(&r.distress, "distress"),
    };
    let base_triggers = Triggers::default().apply(&spec.triggers);
    let segments = spec
        .segments
        .iter()
        .map(|(key, s)| Segment {
            key: key.clone(),
            names: if s.names.is_empty() {
                vec![key.clone()]
            } else {
                s.names.clone()
            },
            vip: s.vip,
            min_priority: s.min_priority.as_deref().and_then(Priority::parse),
            triggers: base_triggers.apply(&s.triggers),
        })
        .collect();
    let events = spec
        .events
        .iter()
        .map(|e| EventRule {
            name: e.name.clone().unwrap_or_else(|| e.kind.clone()),
            kind: e.kind.trim().to_owned(),
            count: e.count,
            within: time::Duration::seconds_f64(e.within_hours * 3600.0),
            category: index(&e.category),
        })
        .collect();
    let q = &spec.questions;
    Ok(PolicyEngine {
        version,
        negative_below: spec.triggers.negative_below.unwrap_or(-0.3) as f32,
        categories,
        groups,
        intents,
        routine: spec.intents.routine.clone(),
        routine_min_confidence: spec.intents.routine_min_confidence.unwrap_or(0.6) as f32,
        matcher,
        question_defer: q.defer.unwrap_or(true),
        question_min_confidence: q.min_confidence.unwrap_or(0.5) as f32,
        starters: q
            .starters
            .clone()
            .unwrap_or_else(|| DEFAULT_STARTERS.iter().map(|s| (*s).to_owned()).collect())
            .iter()
            .map(|s| crate::text::normalize(s))
            .collect(),
        base: Segment {
            key: String::new(),
            names: Vec::new(),
            vip: false,
            min_priority: None,
            triggers: base_triggers,
        },
        segments,
        segment_attributes: spec
            .segment_attributes
            .clone()
            .unwrap_or_else(|| vec!["segment".into(), "tier".into(), "plan".into()]),
        routes,
        distress: crate::engine::Distress {
            caps_ratio: d.caps_ratio.unwrap_or(0.7) as f32,
            caps_min_letters: d.caps_min_letters.unwrap_or(8),
            exclamation_run: d.exclamation_run.unwrap_or(3),
            max_sentiment: d.max_sentiment.unwrap_or(0.05) as f32,
            profanity_weight: d.profanity_weight.unwrap_or(2),
        },
        events,
    })
}
