//! JSON views of stored records for the admin API. These shapes are the API's wire
//! format (documented in `openapi.rs`); the records themselves are not serialized
//! directly.

use serde_json::{Value, json};
use tandem_core::store::{
    AgentRecord, AiAuditKind, AiAuditRecord, ConversationRecord, CustomerEvent, CustomerRecord,
    EscalationEvent, HandoffState, IdentityRecord, QueuedHandoff,
};
use tandem_model::{Timestamp, TranscriptEntry};
use time::format_description::well_known::Rfc3339;

fn ts(t: Timestamp) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn ms(ms: i64) -> Value {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

/// The current time, RFC 3339.
pub(super) fn now_rfc3339() -> String {
    ts(tandem_model::now())
}

pub(super) fn customer(c: &CustomerRecord, identities: &[IdentityRecord]) -> Value {
    json!({
        "id": c.id,
        "display_name": c.display_name,
        "segment": c.segment,
        "attributes": c.attributes,
        "created_at": ts(c.created_at),
        "identities": identities.iter().map(|i| json!({
            "channel": i.channel,
            "external_id": i.subject,
            "verified": i.verified,
            "created_at": ts(i.created_at),
        })).collect::<Vec<_>>(),
    })
}

pub(super) fn identity(i: &IdentityRecord) -> Value {
    json!({
        "customer_id": i.customer_id,
        "channel": i.channel,
        "external_id": i.subject,
        "verified": i.verified,
        "source": i.source,
        "verified_email": i.verified_email,
        "verified_phone": i.verified_phone,
        "created_at": ts(i.created_at),
    })
}

pub(super) fn conversation_summary(c: &ConversationRecord) -> Value {
    json!({
        "id": c.id,
        "channel": c.channel,
        "status": c.status,
        "owner": c.state.owner,
        "opened_at": ts(c.opened_at),
        "updated_at": ts(c.updated_at),
    })
}

fn handoff(h: &HandoffState) -> Value {
    json!({
        "id": h.id,
        "desk": h.desk,
        "status": h.status,
        "category": h.category,
        "priority": h.priority,
        "target": h.target,
        "agent": h.agent.as_ref().map(|a| json!({"id": a.id, "name": a.name})),
        "assignee": h.assignee.as_ref().map(|a| json!({"id": a.id, "name": a.name})),
        "sla_breached_at": h.sla_breached_at_ms.map_or(Value::Null, ms),
        "routing": h.routing.iter().map(|r| json!({
            "change": r.change,
            "queue": r.queue,
            "from": r.from,
            "agent": r.agent.as_ref().map(|a| json!({"id": a.id, "name": a.name})),
            "at": ms(r.at_ms),
        })).collect::<Vec<_>>(),
        "transitions": h.transitions.iter().map(|t| json!({"status": t.status, "actor": t.actor, "at": ms(t.at_ms)})).collect::<Vec<_>>(),
        "csat": h.csat.as_ref().map(|c| json!({
            "score": c.score,
            "comment": c.comment,
            "skipped": c.skipped,
            "at": c.at_ms.map_or(Value::Null, ms),
        })),
    })
}

pub(super) fn conversation(c: &ConversationRecord) -> Value {
    let s = &c.state;
    json!({
        "id": c.id,
        "customer_id": c.customer_id,
        "channel": c.channel,
        "status": c.status,
        "owner": s.owner,
        "opened_at": ts(c.opened_at),
        "updated_at": ts(c.updated_at),
        "messages": c.next_seq,
        "state": {
            "last_intent": s.last_intent,
            "fallback_count": s.fallback_count,
            "negative_count": s.negative_count,
            "sentiment_history": s.sentiment_history,
            "slots": s.slots,
            "handoff_requested": s.handoff_requested,
        },
        "handoff": s.handoff.as_ref().map(handoff),
        "past_handoffs": s.past_handoffs.iter().map(handoff).collect::<Vec<_>>(),
    })
}

pub(super) fn transcript_entry(e: &TranscriptEntry) -> Value {
    json!({
        "id": e.id,
        "seq": e.seq,
        "from": e.from,
        "channel": e.channel,
        "at": ts(e.at),
        "content": e.content,
        "buttons": e.buttons,
    })
}

pub(super) fn escalation(e: &EscalationEvent) -> Value {
    json!({
        "id": e.id,
        "at": ts(e.at),
        "message_seq": e.message_seq,
        "escalate": e.escalate,
        "category": e.category,
        "priority": e.priority,
        "target": e.target,
        "policy_version": e.policy_version,
        "reasons": e.reasons,
    })
}

/// An AI audit record; a bot answer also names its `bot`, a briefing its `summarizer`.
pub(super) fn ai_audit(r: &AiAuditRecord) -> Value {
    let mut v = json!({
        "id": r.id,
        "conversation_id": r.conversation_id,
        "message_seq": r.message_seq,
        "at": ts(r.at),
        "kind": r.kind.as_str(),
        "provider": r.provider,
        "model": r.model,
        "intent": r.intent,
        "confidence": r.confidence,
        "sentiment": r.sentiment,
        "sentiment_label": r.sentiment_label,
        "fallback": r.fallback,
        "fell_back": r.fell_back,
        "error": r.error,
        "request": r.request,
        "response": r.response,
        "request_sha256": r.request_sha256,
        "response_sha256": r.response_sha256,
        "latency_ms": r.latency_ms,
    });
    let role = match r.kind {
        AiAuditKind::BotAnswer => Some("bot"),
        AiAuditKind::BriefingSummary => Some("summarizer"),
        AiAuditKind::Intent | AiAuditKind::Sentiment => None,
    };
    if let (Some(role), Some(provider)) = (role, &r.provider) {
        v[role] = json!(provider);
    }
    v
}

pub(super) fn event(e: &CustomerEvent) -> Value {
    json!({"id": e.id, "name": e.name, "at": ts(e.at), "data": e.data})
}

pub(super) fn agent(a: &AgentRecord, c: &tandem_core::accounts::Credentials) -> Value {
    json!({
        "id": a.profile.id,
        "name": a.profile.name,
        "email": c.email,
        "disabled": c.disabled,
        "has_password": c.password_hash.is_some(),
        "skills": a.profile.skills,
        "capacity": a.profile.capacity,
        "status": a.profile.status.as_str(),
        "active": a.active,
        "load": a.active.len(),
        "updated_at": ts(a.updated_at),
    })
}

pub(super) fn queued(q: &QueuedHandoff) -> Value {
    json!({
        "handoff_id": q.handoff_id,
        "conversation_id": q.conversation_id,
        "queue": q.queue,
        "priority": q.priority,
        "queued_at": ts(q.queued_at),
    })
}
