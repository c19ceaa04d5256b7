//! Evaluation: [`PolicyEngine`] as a [`tandem_core::policy::EscalationPolicy`].
//!
//! Per customer message, every trigger is checked and each one that fires becomes a
//! candidate reason with its category, priority and target:
//!
//! 1. `keyword` (or the category's `code`): a category keyword on word boundaries, after
//!    typo correction, not negated in its clause (for categories with `negation`), and not
//!    an informational question the bot answered itself (`defer_questions`).
//! 2. `intent`: the bot's intent maps to a category at or above the confidence threshold.
//! 3. `distress`: ALL CAPS, a run of `!`, mild distress words, profanity; together at
//!    least `distress_min_signals`, in a message that is not positive.
//! 4. `sentiment_streak`, `fallback_loop` (strike 3; strikes 1-2 only offer),
//!    `repeat_contact`: behavioural, routed by `[routes]`.
//! 5. `low_confidence`: only an offer (the "talk to a person" button), never a handoff.
//!
//! An AI-first segment turns a first request for a person into a `bot_first` offer. The
//! decision picks the category of the highest priority (ties: the category listed first),
//! raises the priority to the segment's floor, lists every reason (the chosen category's
//! first, then by priority), and adds `vip` for VIP segments. Offers are kept only when
//! nothing escalates.

use crate::engine::{PolicyEngine, Segment, with_scratch};
use crate::matcher::{Owner, Scratch};
use crate::spec::Priority;
use tandem_core::ai::{IntentSignal, SpeechAct};
use tandem_core::policy::{
    Decision, EscalationPolicy, EventsInput, InactivityInput, Offer, OfferKind, PolicyInput,
};
use tandem_core::store::{Owner as ConversationOwner, Reason};

/// A fired trigger before the decision is made.
struct Candidate<'a> {
    reason: Reason,
    category: usize,
    priority: Priority,
    target: &'a str,
}

fn reason(code: &str, category: Option<&str>, evidence: impl Into<String>) -> Reason {
    Reason {
        code: code.to_owned(),
        category: category.map(str::to_owned),
        evidence: evidence.into(),
    }
}

impl PolicyEngine {
    /// A candidate for a behavioural trigger routed to category `ci`.
    fn routed(&self, ci: usize, code: &str, evidence: String) -> Candidate<'_> {
        let group = self.groups.iter().find(|g| g.category == ci);
        Candidate {
            reason: reason(code, Some(&self.categories[ci].name), evidence),
            category: ci,
            priority: group.map_or(Priority::Medium, |g| g.priority),
            target: group.map_or("", |g| g.target.as_str()),
        }
    }

    fn evaluate_message(&self, input: &PolicyInput<'_>, scratch: &mut Scratch) -> Decision {
        let seg = self.segment_of(input.customer);
        let t = &seg.triggers;
        let bot = input.bot;
        let state = input.state;
        let mut cands: Vec<Candidate<'_>> = Vec::new();
        let mut offers: Vec<Offer> = Vec::new();

        self.matcher.scan(input.text, scratch);
        // The intent: the classifier's when there is one, else the bot's.
        let signal = input.intent;
        let answered_intent = bot.intent.as_deref().filter(|_| !bot.fallback);
        let (intent, confidence) = match signal {
            Some(s) => (Some(s.intent.as_str()), s.confidence),
            None => (answered_intent, bot.confidence),
        };
        let intent_group = intent.and_then(|i| self.intents.get(i).copied());
        let routine = self.is_routine(signal);
        // An informational question: asked (not demanded) about an intent the bot
        // answers itself; the keywords of `defer_questions` categories stay silent.
        let informational = self.question_defer
            && match signal {
                Some(s) => {
                    s.act == SpeechAct::Question
                        && intent_group.is_none()
                        && self.routine.contains(&s.intent)
                        && s.confidence >= self.question_min_confidence
                }
                None => {
                    let is_question = input.text.trim_end().ends_with('?')
                        || scratch
                            .norm
                            .split(' ')
                            .next()
                            .is_some_and(|w| self.starters.iter().any(|s| s == w));
                    is_question
                        && answered_intent.is_some()
                        && intent_group.is_none()
                        && bot.confidence >= self.question_min_confidence
                }
            };

        // 1. keywords
        let mut mild: Vec<usize> = Vec::new();
        let mut profane = false;
        for hit in &scratch.hits {
            let kw = &self.matcher.keywords[hit.keyword];
            match kw.owner {
                Owner::Group(g) => {
                    let group = &self.groups[g];
                    let cat = &self.categories[group.category];
                    if (hit.negated && group.negation)
                        || (informational && cat.defer_questions)
                        || (routine && group.yield_to_routine)
                    {
                        continue;
                    }
                    cands.push(Candidate {
                        reason: reason(&cat.code, Some(&cat.name), kw.text.as_str()),
                        category: group.category,
                        priority: group.priority,
                        target: &group.target,
                    });
                }
                Owner::Mild if !hit.negated => mild.push(hit.keyword),
                Owner::Mild => {}
                Owner::Profanity => profane = true,
            }
        }

        // 2. intent (a negated one, "I don't want to cancel", does not count for
        // categories with `negation`)
        if let (Some(g), Some(intent)) = (intent_group, intent) {
            let group = &self.groups[g];
            let cat = &self.categories[group.category];
            let negated = signal.is_some_and(|s| s.negated) && group.negation;
            if confidence >= cat.intent_min_confidence.unwrap_or(t.intent_min_confidence)
                && !negated
            {
                cands.push(Candidate {
                    reason: reason("intent", Some(&cat.name), intent),
                    category: group.category,
                    priority: group.priority,
                    target: &group.target,
                });
            }
        }

        // 3. distress signals
        if input.sentiment <= self.distress.max_sentiment {
            let caps = self.caps(input.text);
            let bangs = longest_bang_run(input.text) >= self.distress.exclamation_run;
            let weight = if profane {
                self.distress.profanity_weight
            } else {
                0
            };
            let score = u32::from(caps) + u32::from(bangs) + mild.len() as u32 + weight;
            if score > 0 && score >= t.distress_min_signals {
                let ci = self.routes.distress;
                let mut push =
                    |evidence: &str| cands.push(self.routed(ci, "distress", evidence.to_owned()));
                if caps {
                    push("ALL CAPS");
                }
                if bangs {
                    push("!!!");
                }
                for k in &mild {
                    push(&self.matcher.keywords[*k].text);
                }
                if profane {
                    push("profanity");
                }
            }
        }

        // AI-first segments: the bot answers a first request for a person.
        if t.ai_first && !state.human_offered {
            let deferred = cands
                .iter()
                .position(|c| self.categories[c.category].bot_first)
                .map(|i| cands[i].reason.clone());
            if let Some(reason) = deferred {
                cands.retain(|c| !self.categories[c.category].bot_first);
                offers.push(Offer {
                    kind: OfferKind::BotFirst,
                    reason,
                });
            }
        }

        // 4. behavioural
        if t.sentiment_streak > 0 && state.negative_count >= t.sentiment_streak {
            let evidence = format!("{} negative messages", state.negative_count);
            cands.push(self.routed(self.routes.sentiment_streak, "sentiment_streak", evidence));
        }
        if bot.fallback && routine {
            // A clear routine question the bot does not cover: not a strike (see
            // `counts_as_fallback`), but the customer gets the button.
            offers.push(Offer {
                kind: OfferKind::HumanButton,
                reason: reason("fallback_loop", None, "routine question not covered"),
            });
        } else if bot.fallback {
            let strike = state.fallback_count;
            let at = |n: u32| n > 0 && strike >= n;
            if at(t.fallback_handoff_at) {
                let evidence = format!("{strike} fallbacks in a row");
                cands.push(self.routed(self.routes.fallback_loop, "fallback_loop", evidence));
            } else if at(t.fallback_offer_at) || at(t.fallback_rephrase_at) {
                let kind = if at(t.fallback_offer_at) {
                    OfferKind::HumanButton
                } else {
                    OfferKind::Rephrase
                };
                offers.push(Offer {
                    kind,
                    reason: reason("fallback_loop", None, format!("strike {strike}")),
                });
            }
        } else if bot.confidence < t.low_confidence_below {
            let evidence = format!("confidence {:.2}", bot.confidence);
            offers.push(Offer {
                kind: OfferKind::HumanButton,
                reason: reason("low_confidence", None, evidence),
            });
        }
        if t.repeat_contact_count > 0
            && !input.history.is_empty()
            && let Some(intent) = state.last_intent.as_deref()
            && !t.repeat_contact_ignore.iter().any(|i| i == intent)
        {
            let window = time::Duration::days(i64::from(t.repeat_contact_days));
            let earlier = input
                .history
                .iter()
                .filter(|p| p.intent == intent && p.at <= input.now && input.now - p.at <= window)
                .count();
            let n = earlier + 1;
            if n >= t.repeat_contact_count as usize {
                let evidence = format!(
                    "{n} conversations about {intent} in {} days",
                    t.repeat_contact_days
                );
                cands.push(self.routed(self.routes.repeat_contact, "repeat_contact", evidence));
            }
        }
        self.decide(seg, cands, offers)
    }

    /// Turns candidates into the decision (see the module docs).
    fn decide(&self, seg: &Segment, mut cands: Vec<Candidate<'_>>, offers: Vec<Offer>) -> Decision {
        let Some(best) = cands
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| {
                (
                    c.priority,
                    std::cmp::Reverse(c.category),
                    std::cmp::Reverse(*i),
                )
            })
            .map(|(i, _)| i)
        else {
            return Decision {
                offers,
                ..Decision::default()
            };
        };
        let (category, target, mut priority) = (
            cands[best].category,
            cands[best].target,
            cands[best].priority,
        );
        if let Some(floor) = seg.min_priority {
            priority = priority.max(floor);
        }
        let target = target.to_owned();
        cands.sort_by_key(|c| (c.category != category, std::cmp::Reverse(c.priority)));
        let mut reasons: Vec<Reason> = cands.into_iter().map(|c| c.reason).collect();
        if seg.vip {
            reasons.push(reason("vip", None, format!("segment {}", seg.key)));
        }
        Decision {
            escalate: true,
            reasons,
            category: Some(self.categories[category].name.clone()),
            priority: Some(priority.as_str().to_owned()),
            target: Some(target),
            offers: Vec::new(),
        }
    }

    /// Whether the classifier is confident the message is a routine intent
    /// (`[intents].routine`, at `routine_min_confidence` or more).
    fn is_routine(&self, signal: Option<&IntentSignal>) -> bool {
        signal.is_some_and(|s| {
            s.confidence >= self.routine_min_confidence && self.routine.contains(&s.intent)
        })
    }

    /// Whether the text is shouted: enough letters, mostly capitals.
    fn caps(&self, text: &str) -> bool {
        let (mut letters, mut upper) = (0usize, 0usize);
        for c in text.chars().filter(|c| c.is_alphabetic()) {
            letters += 1;
            upper += usize::from(c.is_uppercase());
        }
        letters >= self.distress.caps_min_letters
            && upper as f32 >= self.distress.caps_ratio * letters as f32
    }
}

/// The longest run of exclamation marks.
fn longest_bang_run(text: &str) -> usize {
    let (mut best, mut run) = (0, 0);
    for c in text.chars() {
        if matches!(c, '!' | '\u{ff01}') {
            run += 1;
            best = best.max(run);
        } else if !c.is_whitespace() {
            run = 0;
        }
    }
    best
}

impl EscalationPolicy for PolicyEngine {
    fn evaluate(&self, input: &PolicyInput<'_>) -> Decision {
        with_scratch(|scratch| self.evaluate_message(input, scratch))
    }

    fn version(&self) -> &str {
        &self.version
    }

    fn category_names(&self) -> Vec<String> {
        self.categories().map(str::to_owned).collect()
    }

    fn negative_threshold(&self) -> f32 {
        self.negative_below
    }

    fn counts_as_negative(&self, sentiment: f32, intent: Option<&IntentSignal>) -> bool {
        sentiment < self.negative_below && !self.is_routine(intent)
    }

    fn counts_as_fallback(&self, intent: Option<&IntentSignal>) -> bool {
        !self.is_routine(intent)
    }

    fn inactivity_after(&self) -> Option<std::time::Duration> {
        std::iter::once(&self.base)
            .chain(self.segments.iter())
            .flat_map(|s| {
                [
                    s.triggers.inactivity_check_in_secs,
                    s.triggers.inactivity_handoff_secs,
                ]
            })
            .filter(|&secs| secs > 0)
            .min()
            .map(std::time::Duration::from_secs)
    }

    fn evaluate_inactivity(&self, input: &InactivityInput<'_>) -> Decision {
        if input.state.owner != ConversationOwner::Bot || input.state.handoff_requested {
            return Decision::default();
        }
        let seg = self.segment_of(input.customer);
        let t = &seg.triggers;
        let idle = input.idle.as_secs();
        if t.inactivity_handoff_secs > 0 && idle >= t.inactivity_handoff_secs {
            let evidence = format!("silent {idle} s after a bot reply");
            let cand = self.routed(self.routes.inactivity, "inactivity", evidence);
            return self.decide(seg, vec![cand], Vec::new());
        }
        let mut offers = Vec::new();
        if t.inactivity_check_in_secs > 0 && idle >= t.inactivity_check_in_secs {
            offers.push(Offer {
                kind: OfferKind::CheckIn,
                reason: reason(
                    "inactivity",
                    None,
                    format!("silent {idle} s after a bot reply"),
                ),
            });
        }
        self.decide(seg, Vec::new(), offers)
    }

    fn evaluate_events(&self, input: &EventsInput<'_>) -> Decision {
        let seg = self.segment_of(input.customer);
        let mut cands = Vec::new();
        for rule in &self.events {
            let n = input
                .events
                .iter()
                .filter(|e| {
                    e.kind == rule.kind && e.at <= input.now && input.now - e.at <= rule.within
                })
                .count();
            if n >= rule.count as usize {
                let hours = rule.within.as_seconds_f64() / 3600.0;
                let evidence = format!("{}: {n} {} within {hours} h", rule.name, rule.kind);
                cands.push(self.routed(rule.category, "event", evidence));
            }
        }
        self.decide(seg, cands, Vec::new())
    }
}
