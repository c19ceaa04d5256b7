//! Escalation health figures (the dashboard at `/console/metrics` and
//! `GET /api/v1/metrics/escalation`), computed from stored records only: conversations
//! (their handoffs, transitions and CSAT answers live in the conversation state) and the
//! times of agent transcript entries, as [`Reporting::conversation_activity`] returns them.
//! Numerator and denominator come from the same durable records, so a restart changes
//! nothing. Pure: no I/O, no clock (`now` is an input). Definitions: `docs/ESCALATION.md`.
//!
//! [`Reporting::conversation_activity`]: crate::store::Reporting::conversation_activity

use crate::store::{ConversationActivity, HandoffState, HandoffStatus};
use serde::Serialize;
use std::collections::BTreeMap;
use tandem_model::{CustomerId, Timestamp};

/// The healthy escalation-rate band: below it the bot may keep customers who need a
/// person, above it the bot hands off what it could answer.
pub const HEALTHY_BAND: (f64, f64) = (0.05, 0.10);

/// How long after a resolution the same customer coming back about the same thing
/// counts against it.
pub const RESOLUTION_WINDOW_MS: i64 = 48 * 3600 * 1000;

/// Most conversations one report reads (the store scan is capped at this).
pub const MAX_CONVERSATIONS: usize = 20_000;

/// Longest period one report covers (days in the daily series).
pub const MAX_DAYS: i64 = 92;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// What a breakdown groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    /// The handoff's category (conversations without a handoff are not a group).
    Category,
    /// The handoff's target queue.
    Queue,
    /// The channel the customer last wrote on in the conversation.
    Channel,
    /// The handoff's priority.
    Priority,
}

impl Breakdown {
    /// Parses `category`, `queue`, `channel` or `priority`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "category" => Some(Self::Category),
            "queue" => Some(Self::Queue),
            "channel" => Some(Self::Channel),
            "priority" => Some(Self::Priority),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Category => "category",
            Self::Queue => "queue",
            Self::Channel => "channel",
            Self::Priority => "priority",
        }
    }

    /// Every breakdown, in display order.
    pub const ALL: [Breakdown; 4] = [
        Breakdown::Category,
        Breakdown::Queue,
        Breakdown::Channel,
        Breakdown::Priority,
    ];
}

/// The group name of a handoff without that attribute.
pub const NONE_GROUP: &str = "(none)";

/// A period and what to group by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HealthQuery {
    /// Start of the period (conversations opened at or after it).
    pub from: Timestamp,
    /// End of the period (conversations opened before it).
    pub to: Timestamp,
    /// When the report is made (resolutions younger than 48 h are still pending).
    pub now: Timestamp,
    /// The breakdown, if any.
    pub by: Option<Breakdown>,
}

/// Median and 90th percentile of a duration, in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Durations {
    /// How many values.
    pub count: u64,
    /// Median, ms.
    pub median_ms: Option<i64>,
    /// 90th percentile, ms.
    pub p90_ms: Option<i64>,
}

impl Durations {
    fn of(mut values: Vec<i64>) -> Self {
        values.sort_unstable();
        Self {
            count: values.len() as u64,
            median_ms: percentile(&values, 50),
            p90_ms: percentile(&values, 90),
        }
    }
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Satisfaction answers (1–5).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct CsatFigures {
    /// Surveys answered with a score.
    pub answers: u64,
    /// Mean score.
    pub mean: Option<f64>,
    /// Share of answers scoring 4 or 5.
    pub satisfied_share: Option<f64>,
}

impl CsatFigures {
    fn of(scores: &[u8]) -> Self {
        let n = scores.len() as u64;
        let sum: u64 = scores.iter().map(|s| u64::from(*s)).sum();
        let satisfied = scores.iter().filter(|s| **s >= 4).count() as u64;
        Self {
            answers: n,
            mean: ratio(sum, n),
            satisfied_share: ratio(satisfied, n),
        }
    }
}

/// The figures of one group (or of everything).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Figures {
    /// Conversations opened in the period with at least one customer message: the
    /// denominator of the escalation rate. For a category, queue or priority group it is
    /// every conversation of the period (the group's share of all conversations).
    pub conversations: u64,
    /// Handoffs opened in those conversations.
    pub handoffs: u64,
    /// `handoffs / conversations`.
    pub escalation_rate: Option<f64>,
    /// From a handoff opening to the first agent message in it.
    pub first_human_reply: Durations,
    /// Handoffs that got no agent message while open.
    pub handoffs_without_reply: u64,
    /// Handoffs closed as `resolved`.
    pub resolved: u64,
    /// Resolved handoffs whose 48 hours are over.
    pub resolution_checked: u64,
    /// Of those, how many had no repeat contact (see `docs/ESCALATION.md`).
    pub resolved_within_48h: u64,
    /// `resolved_within_48h / resolution_checked`.
    pub resolution_rate_48h: Option<f64>,
    /// Handoffs closed (resolved, returned to the bot, timed out).
    pub closed_handoffs: u64,
    /// Handoffs returned to the bot without any agent message.
    pub overrides: u64,
    /// `overrides / closed_handoffs`.
    pub override_rate: Option<f64>,
    /// Survey answers after a handoff.
    pub csat_handoff: CsatFigures,
    /// Survey answers of conversations the bot handled alone.
    pub csat_bot: CsatFigures,
}

/// One day of the escalation-rate series (UTC days).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayPoint {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Conversations with a customer message opened that day.
    pub conversations: u64,
    /// Handoffs of those conversations.
    pub handoffs: u64,
    /// `handoffs / conversations`.
    pub escalation_rate: Option<f64>,
}

/// One group of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// The category, queue, channel or priority ([`NONE_GROUP`] when unset).
    pub key: String,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// Start of the period, RFC 3339.
    pub from: String,
    /// End of the period, RFC 3339.
    pub to: String,
    /// The healthy escalation-rate band, `[low, high]`.
    pub healthy_band: [f64; 2],
    /// Everything in the period.
    pub overall: Figures,
    /// The breakdown asked for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Breakdown>,
    /// Its groups, by key.
    pub groups: Vec<Group>,
    /// Escalation rate per UTC day of the period.
    pub daily: Vec<DayPoint>,
    /// True when the store scan hit [`MAX_CONVERSATIONS`]: the figures cover the
    /// conversations read, not the whole period.
    pub truncated: bool,
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

fn ms(t: Timestamp) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn rfc3339(t: Timestamp) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// When a handoff opened: its first transition.
fn opened_ms(h: &HandoffState) -> Option<i64> {
    h.transitions.first().map(|t| t.at_ms)
}

/// When a handoff closed: the transition into its closed status.
fn closed_ms(h: &HandoffState) -> Option<i64> {
    if !h.status.is_closed() {
        return None;
    }
    h.transitions
        .iter()
        .rev()
        .find(|t| t.status == h.status)
        .map(|t| t.at_ms)
}

/// What one handoff contributes.
struct HandoffFacts<'a> {
    handoff: &'a HandoffState,
    /// The conversation's channel.
    channel: &'a str,
    first_reply_ms: Option<i64>,
    resolved_48h: Option<bool>,
    is_override: bool,
}

/// A later contact of a customer: a handoff opening (with its category) or a
/// conversation opening (with its last recognised intent).
struct Contact<'a> {
    at_ms: i64,
    conversation: &'a str,
    category: Option<&'a str>,
    intent: Option<&'a str>,
}

/// Computes the report from the records of [`Reporting::conversation_activity`]
/// (`truncated` says whether the store hit its cap).
///
/// [`Reporting::conversation_activity`]: crate::store::Reporting::conversation_activity
pub fn compute(records: &[ConversationActivity], q: &HealthQuery, truncated: bool) -> HealthReport {
    let (from, to, now) = (ms(q.from), ms(q.to), ms(q.now));
    // Every later contact of each customer, for the 48-hour check.
    let mut contacts: BTreeMap<&CustomerId, Vec<Contact<'_>>> = BTreeMap::new();
    for r in records {
        let c = &r.conversation;
        let list = contacts.entry(&c.customer_id).or_default();
        list.push(Contact {
            at_ms: ms(c.opened_at),
            conversation: c.id.as_str(),
            category: None,
            intent: c.state.last_intent.as_deref(),
        });
        for h in handoffs_of(r) {
            if let Some(at) = opened_ms(h) {
                list.push(Contact {
                    at_ms: at,
                    conversation: c.id.as_str(),
                    category: Some(h.category.as_deref().unwrap_or(NONE_GROUP)),
                    intent: None,
                });
            }
        }
    }

    let mut cohort: Vec<(&ConversationActivity, Vec<HandoffFacts<'_>>)> = Vec::new();
    for r in records {
        let c = &r.conversation;
        let opened = ms(c.opened_at);
        if opened < from || opened >= to || c.state.last_customer_message_at.is_empty() {
            continue;
        }
        let facts = handoffs_of(r)
            .filter_map(|h| {
                let open = opened_ms(h)?;
                let close = closed_ms(h);
                let replies = r
                    .agent_replies
                    .iter()
                    .map(|t| ms(*t))
                    .filter(|t| *t >= open && close.is_none_or(|c| *t <= c));
                let first = replies.min();
                let resolved_48h = match (h.status, close) {
                    (HandoffStatus::Resolved, Some(at)) if at + RESOLUTION_WINDOW_MS <= now => {
                        Some(!came_back(&contacts, r, h, at))
                    }
                    _ => None,
                };
                Some(HandoffFacts {
                    handoff: h,
                    channel: c.channel.as_str(),
                    first_reply_ms: first.map(|t| t - open),
                    resolved_48h,
                    is_override: h.status == HandoffStatus::Released && first.is_none(),
                })
            })
            .collect();
        cohort.push((r, facts));
    }

    let total = cohort.len() as u64;
    let overall = figures(
        total,
        cohort.iter().flat_map(|(_, f)| f.iter()),
        bot_scores(cohort.iter().map(|(r, f)| (*r, f.as_slice()))),
    );

    let groups = match q.by {
        None => Vec::new(),
        Some(Breakdown::Channel) => {
            let mut by: BTreeMap<&str, Vec<&(&ConversationActivity, Vec<HandoffFacts<'_>>)>> =
                BTreeMap::new();
            for item in &cohort {
                by.entry(item.0.conversation.channel.as_str())
                    .or_default()
                    .push(item);
            }
            by.into_iter()
                .map(|(key, items)| Group {
                    key: key.to_owned(),
                    figures: figures(
                        items.len() as u64,
                        items.iter().flat_map(|(_, f)| f.iter()),
                        bot_scores(items.iter().map(|(r, f)| (*r, f.as_slice()))),
                    ),
                })
                .collect()
        }
        Some(b) => {
            let mut by: BTreeMap<String, Vec<&HandoffFacts<'_>>> = BTreeMap::new();
            for f in cohort.iter().flat_map(|(_, f)| f.iter()) {
                by.entry(group_key(f, b)).or_default().push(f);
            }
            by.into_iter()
                .map(|(key, facts)| Group {
                    key,
                    figures: figures(total, facts.into_iter(), Vec::new()),
                })
                .collect()
        }
    };

    let mut days: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    let first_day = from.div_euclid(DAY_MS);
    let last_day = (to - 1).div_euclid(DAY_MS).min(first_day + MAX_DAYS - 1);
    for d in first_day..=last_day {
        days.insert(d, (0, 0));
    }
    for (r, f) in &cohort {
        let day = ms(r.conversation.opened_at).div_euclid(DAY_MS);
        if let Some(e) = days.get_mut(&day) {
            e.0 += 1;
            e.1 += f.len() as u64;
        }
    }
    let daily = days
        .into_iter()
        .map(|(d, (c, h))| DayPoint {
            day: day_name(d),
            conversations: c,
            handoffs: h,
            escalation_rate: ratio(h, c),
        })
        .collect();

    HealthReport {
        from: rfc3339(q.from),
        to: rfc3339(q.to),
        healthy_band: [HEALTHY_BAND.0, HEALTHY_BAND.1],
        overall,
        by: q.by,
        groups,
        daily,
        truncated,
    }
}

/// The open handoff and the closed ones of a conversation.
fn handoffs_of(r: &ConversationActivity) -> impl Iterator<Item = &HandoffState> {
    r.conversation
        .state
        .past_handoffs
        .iter()
        .chain(r.conversation.state.handoff.as_ref())
}

/// Whether the customer came back about the same thing within 48 hours of `resolved_at`:
/// a handoff of the same category opened after it (any conversation, any channel), or
/// another conversation opened after it whose last recognised intent is the resolved
/// conversation's.
fn came_back(
    contacts: &BTreeMap<&CustomerId, Vec<Contact<'_>>>,
    r: &ConversationActivity,
    h: &HandoffState,
    resolved_at: i64,
) -> bool {
    let c = &r.conversation;
    let category = h.category.as_deref().unwrap_or(NONE_GROUP);
    let intent = c.state.last_intent.as_deref();
    contacts.get(&c.customer_id).is_some_and(|list| {
        list.iter().any(|k| {
            k.at_ms > resolved_at
                && k.at_ms <= resolved_at + RESOLUTION_WINDOW_MS
                && (k.category == Some(category)
                    || (k.conversation != c.id.as_str() && intent.is_some() && k.intent == intent))
        })
    })
}

fn group_key(f: &HandoffFacts<'_>, by: Breakdown) -> String {
    let h = f.handoff;
    let v = match by {
        Breakdown::Category => h.category.as_deref(),
        Breakdown::Queue => h.target.as_deref(),
        Breakdown::Priority => h.priority.as_deref(),
        Breakdown::Channel => Some(f.channel),
    };
    v.unwrap_or(NONE_GROUP).to_owned()
}

/// Survey scores of conversations without any handoff.
fn bot_scores<'a>(
    items: impl Iterator<Item = (&'a ConversationActivity, &'a [HandoffFacts<'a>])>,
) -> Vec<u8> {
    items
        .filter(|(_, f)| f.is_empty())
        .filter_map(|(r, _)| r.conversation.state.bot_csat.as_ref()?.score)
        .collect()
}

fn figures<'a>(
    conversations: u64,
    handoffs: impl Iterator<Item = &'a HandoffFacts<'a>>,
    bot_scores: Vec<u8>,
) -> Figures {
    let mut f = Figures {
        conversations,
        ..Figures::default()
    };
    let mut replies = Vec::new();
    let mut scores = Vec::new();
    for h in handoffs {
        f.handoffs += 1;
        match h.first_reply_ms {
            Some(d) => replies.push(d),
            None => f.handoffs_without_reply += 1,
        }
        if h.handoff.status == HandoffStatus::Resolved {
            f.resolved += 1;
        }
        if let Some(ok) = h.resolved_48h {
            f.resolution_checked += 1;
            f.resolved_within_48h += u64::from(ok);
        }
        if h.handoff.status.is_closed() {
            f.closed_handoffs += 1;
        }
        f.overrides += u64::from(h.is_override);
        if let Some(s) = h.handoff.csat.as_ref().and_then(|c| c.score) {
            scores.push(s);
        }
    }
    f.escalation_rate = ratio(f.handoffs, f.conversations);
    f.first_human_reply = Durations::of(replies);
    f.resolution_rate_48h = ratio(f.resolved_within_48h, f.resolution_checked);
    f.override_rate = ratio(f.overrides, f.closed_handoffs);
    f.csat_handoff = CsatFigures::of(&scores);
    f.csat_bot = CsatFigures::of(&bot_scores);
    f
}

fn day_name(day: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day * 86_400)
        .map(|t| {
            let d = t.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
