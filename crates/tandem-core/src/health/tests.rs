//! The figures on hand-built records.

use super::*;
use crate::store::{
    AgentRef, ConversationRecord, ConversationState, ConversationStatus, Csat, HandoffTransition,
};
use std::collections::BTreeMap;
use tandem_model::{ChannelId, ConversationId};

const H: i64 = 3600 * 1000;
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;

fn at(ms: i64) -> Timestamp {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap()
}

fn conversation(id: &str, customer: &str, channel: &str, opened: i64) -> ConversationRecord {
    let mut state = ConversationState::default();
    state
        .last_customer_message_at
        .insert(channel.to_owned(), opened);
    ConversationRecord {
        id: ConversationId::new(id),
        customer_id: CustomerId::new(customer),
        channel: ChannelId::new(channel),
        status: ConversationStatus::Open,
        state,
        next_seq: 1,
        version: 1,
        opened_at: at(opened),
        updated_at: at(opened),
    }
}

/// A handoff opened at `open`, going through `steps` (status, at).
fn handoff(
    id: &str,
    category: &str,
    open: i64,
    steps: &[(HandoffStatus, i64)],
    score: Option<u8>,
) -> HandoffState {
    let mut transitions = vec![HandoffTransition {
        status: HandoffStatus::Requested,
        actor: "policy".into(),
        at_ms: open,
    }];
    transitions.extend(steps.iter().map(|(status, at_ms)| HandoffTransition {
        status: *status,
        actor: "agent:a1".into(),
        at_ms: *at_ms,
    }));
    HandoffState {
        id: id.into(),
        desk: "console".into(),
        status: transitions.last().unwrap().status,
        category: Some(category.into()),
        priority: Some("high".into()),
        target: Some(format!("{category}_queue")),
        agent: Some(AgentRef {
            id: "a1".into(),
            name: None,
        }),
        transitions,
        csat: score.map(|s| Csat {
            score: Some(s),
            at_ms: Some(open + 2 * H),
            ..Csat::default()
        }),
        sla_breached_at_ms: None,
        assignee: None,
        routing: Vec::new(),
    }
}

fn activity(c: ConversationRecord, replies: &[i64]) -> ConversationActivity {
    ConversationActivity {
        conversation: c,
        agent_replies: replies.iter().map(|m| at(*m)).collect(),
    }
}

fn query(by: Option<Breakdown>) -> HealthQuery {
    HealthQuery {
        from: at(T0),
        to: at(T0 + 48 * H),
        now: at(T0 + 10 * 24 * H),
        by,
    }
}

/// 20 conversations on two days; 2 handed off (billing resolved with a 5, complaint
/// returned to the bot without a reply), one bot-only conversation surveyed 3.
fn sample() -> Vec<ConversationActivity> {
    let mut records = Vec::new();
    for n in 0..18 {
        let channel = if n % 2 == 0 { "webchat" } else { "telegram" };
        let mut c = conversation(&format!("c{n}"), &format!("u{n}"), channel, T0 + n * H);
        if n == 3 {
            c.state.bot_csat = Some(Csat {
                score: Some(3),
                ..Csat::default()
            });
        }
        records.push(activity(c, &[]));
    }
    let mut billing = conversation("cb", "ub", "webchat", T0 + 30 * H);
    billing.state.past_handoffs.push(handoff(
        "ho_b",
        "billing",
        T0 + 30 * H,
        &[
            (HandoffStatus::Accepted, T0 + 30 * H + 60_000),
            (HandoffStatus::Resolved, T0 + 31 * H),
        ],
        Some(5),
    ));
    records.push(activity(
        billing,
        &[T0 + 30 * H + 90_000, T0 + 30 * H + 200_000],
    ));
    let mut complaint = conversation("cc", "uc", "telegram", T0 + 40 * H);
    complaint.state.past_handoffs.push(handoff(
        "ho_c",
        "complaint",
        T0 + 40 * H,
        &[(HandoffStatus::Released, T0 + 40 * H + 120_000)],
        None,
    ));
    records.push(activity(complaint, &[]));
    records
}

#[test]
fn overall_figures_come_from_the_records() {
    let r = compute(&sample(), &query(None), false);
    let o = &r.overall;
    assert_eq!((o.conversations, o.handoffs), (20, 2));
    assert_eq!(o.escalation_rate, Some(0.1));
    assert_eq!(o.first_human_reply.count, 1);
    assert_eq!(o.first_human_reply.median_ms, Some(90_000));
    assert_eq!(o.handoffs_without_reply, 1);
    assert_eq!((o.overrides, o.closed_handoffs), (1, 2));
    assert_eq!(o.override_rate, Some(0.5));
    assert_eq!(
        (o.resolved, o.resolution_checked, o.resolved_within_48h),
        (1, 1, 1)
    );
    assert_eq!(o.csat_handoff.answers, 1);
    assert_eq!(o.csat_handoff.mean, Some(5.0));
    assert_eq!(o.csat_bot.mean, Some(3.0));
    assert_eq!(o.csat_bot.satisfied_share, Some(0.0));
    assert_eq!(r.healthy_band, [0.05, 0.10]);
    assert!(!r.truncated);
}

#[test]
fn daily_series_covers_every_day_of_the_period() {
    let r = compute(&sample(), &query(None), false);
    let days: Vec<(&str, u64, u64)> = r
        .daily
        .iter()
        .map(|d| (d.day.as_str(), d.conversations, d.handoffs))
        .collect();
    assert_eq!(days, [("2026-01-01", 18, 0), ("2026-01-02", 2, 2)]);
    assert_eq!(r.daily[1].escalation_rate, Some(1.0));
}

#[test]
fn conversations_outside_the_period_or_without_a_customer_message_do_not_count() {
    let mut records = sample();
    records.push(activity(conversation("old", "u", "webchat", T0 - H), &[]));
    records.push(activity(
        conversation("late", "u", "webchat", T0 + 48 * H),
        &[],
    ));
    let mut silent = conversation("silent", "u", "webchat", T0 + H);
    silent.state.last_customer_message_at = BTreeMap::new();
    records.push(activity(silent, &[]));
    let r = compute(&records, &query(None), false);
    assert_eq!(r.overall.conversations, 20);
}

#[test]
fn breakdown_by_category_shares_the_overall_denominator() {
    let r = compute(&sample(), &query(Some(Breakdown::Category)), false);
    let rows: Vec<(&str, u64, u64, Option<f64>)> = r
        .groups
        .iter()
        .map(|g| {
            (
                g.key.as_str(),
                g.figures.conversations,
                g.figures.handoffs,
                g.figures.escalation_rate,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("billing", 20, 1, Some(0.05)),
            ("complaint", 20, 1, Some(0.05))
        ]
    );
    assert_eq!(r.groups[0].figures.csat_handoff.mean, Some(5.0));
    assert_eq!(r.groups[1].figures.overrides, 1);
}

#[test]
fn breakdown_by_channel_uses_each_channels_conversations() {
    let r = compute(&sample(), &query(Some(Breakdown::Channel)), false);
    let rows: Vec<(&str, u64, u64)> = r
        .groups
        .iter()
        .map(|g| (g.key.as_str(), g.figures.conversations, g.figures.handoffs))
        .collect();
    assert_eq!(rows, [("telegram", 10, 1), ("webchat", 10, 1)]);
    assert_eq!(r.groups[1].figures.csat_bot.answers, 0);
    assert_eq!(r.groups[0].figures.csat_bot.answers, 1);
}

#[test]
fn queue_and_priority_breakdowns_group_by_the_handoff() {
    let r = compute(&sample(), &query(Some(Breakdown::Queue)), false);
    let keys: Vec<&str> = r.groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["billing_queue", "complaint_queue"]);
    let r = compute(&sample(), &query(Some(Breakdown::Priority)), false);
    assert_eq!(r.groups.len(), 1);
    assert_eq!(
        (r.groups[0].key.as_str(), r.groups[0].figures.handoffs),
        ("high", 2)
    );
}

#[test]
fn a_repeat_handoff_of_the_same_category_within_48_hours_is_not_a_resolution() {
    let mut records = sample();
    // The billing customer is back a day later on another channel, billing again.
    let mut again = conversation("cb2", "ub", "telegram", T0 + 55 * H);
    again.state.past_handoffs.push(handoff(
        "ho_b2",
        "billing",
        T0 + 55 * H,
        &[(HandoffStatus::Resolved, T0 + 56 * H)],
        None,
    ));
    records.push(activity(again, &[]));
    let r = compute(&records, &query(None), false);
    assert_eq!(
        (r.overall.resolution_checked, r.overall.resolved_within_48h),
        (1, 0)
    );
}

#[test]
fn a_return_after_48_hours_or_about_something_else_keeps_the_resolution() {
    for (opened, category) in [(T0 + 80 * H, "billing"), (T0 + 40 * H, "complaint")] {
        let mut records = sample();
        let mut later = conversation("cb2", "ub", "webchat", opened);
        later.state.past_handoffs.push(handoff(
            "ho_b2",
            category,
            opened,
            &[(HandoffStatus::Released, opened + H)],
            None,
        ));
        records.push(activity(later, &[]));
        let r = compute(&records, &query(None), false);
        assert_eq!(r.overall.resolved_within_48h, 1, "{category} at {opened}");
    }
}

#[test]
fn a_new_conversation_about_the_same_intent_within_48_hours_is_a_repeat() {
    let mut records = sample();
    records[18].conversation.state.last_intent = Some("invoices".into());
    let mut again = conversation("cb2", "ub", "telegram", T0 + 40 * H);
    again.state.last_intent = Some("invoices".into());
    records.push(activity(again, &[]));
    let r = compute(&records, &query(None), false);
    assert_eq!(r.overall.resolved_within_48h, 0);
}

#[test]
fn a_resolution_younger_than_48_hours_is_pending() {
    let mut q = query(None);
    q.now = at(T0 + 50 * H);
    let r = compute(&sample(), &q, false);
    assert_eq!((r.overall.resolved, r.overall.resolution_checked), (1, 0));
    assert_eq!(r.overall.resolution_rate_48h, None);
}

#[test]
fn replies_after_the_handoff_closed_are_not_first_replies() {
    let mut records = sample();
    // An agent message long after the complaint was returned does not make it answered.
    records[19].agent_replies = vec![at(T0 + 45 * H)];
    let r = compute(&records, &query(None), false);
    assert_eq!(r.overall.overrides, 1);
    assert_eq!(r.overall.first_human_reply.count, 1);
}

#[test]
fn percentiles_use_the_nearest_rank() {
    let d = Durations::of((1..=10).rev().collect());
    assert_eq!((d.median_ms, d.p90_ms, d.count), (Some(5), Some(9), 10));
    assert_eq!(Durations::of(vec![7]).p90_ms, Some(7));
    assert_eq!(Durations::of(Vec::new()).median_ms, None);
}

#[test]
fn an_empty_period_has_no_rates() {
    let r = compute(&[], &query(Some(Breakdown::Channel)), true);
    assert_eq!(r.overall.conversations, 0);
    assert_eq!(r.overall.escalation_rate, None);
    assert!(r.groups.is_empty());
    assert_eq!(r.daily.len(), 2);
    assert!(r.truncated);
}
