//! `POST /webhooks/teams`: Bot Framework activities. Verify the bearer JWT (before the
//! body is read as anything) → parse → check the activity against the token (endorsed
//! `channelId`, same `serviceUrl`, the configured tenant) → normalize → learn who the
//! sender is (member lookup, cached) → store the conversation reference → hand to the
//! core → answer.
//!
//! Answers: 200 once everything is durably recorded (an invoke's InvokeResponse body);
//! 401 for a missing or invalid token and 403 for a token that does not match the
//! activity, nothing recorded; 400 for a malformed body; 503 when the signing keys or the
//! store are unavailable (Bot Framework redelivers; recorded activities deduplicate on
//! their `id`).

use crate::api::Activity;
use crate::auth::{AuthError, Verifier};
use crate::config::TeamsConfig;
use crate::connector::Connector;
use crate::normalize::{self, Lookup, Parsed};
use crate::state::{self, MEMBER_TTL_MS, MemberFacts};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tandem_sdk::model::ExternalIdentity;
use tandem_sdk::telemetry;
use tandem_sdk::{InboundError, InboundSink};
use tracing::{Instrument, debug, warn};

/// The webhook path.
pub(crate) const PATH: &str = "/webhooks/teams";
/// How long a member lookup may hold the webhook answer (Bot Framework waits 15 s).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// What the route needs.
#[derive(Clone)]
pub(crate) struct Inbound {
    pub(crate) config: Arc<TeamsConfig>,
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) connector: Arc<Connector>,
    pub(crate) sink: InboundSink,
}

pub(crate) fn routes(inbound: Inbound) -> Router {
    Router::new().route(PATH, post(receive)).with_state(inbound)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    tandem_sdk::http::json_error(status, code, message)
}

/// Parses an activity body (a JSON object; odd fields read as absent).
pub(crate) fn parse(body: &[u8]) -> Result<Activity, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err("an activity is a JSON object".into());
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Why an authentic token does not vouch for this activity (403), if it does not.
pub(crate) fn mismatch(
    verified: &crate::auth::Verified,
    activity: &Activity,
    tenant: Option<&str>,
) -> Option<&'static str> {
    verified.mismatch(
        &activity.channel_id,
        &activity.service_url,
        activity.tenant(),
        tenant,
    )
}

async fn receive(State(st): State<Inbound>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let verified = match st.verifier.verify(authorization).await {
        Ok(v) => v,
        Err(AuthError::Missing) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing bearer token",
            );
        }
        Err(AuthError::Invalid(reason)) => {
            return error(StatusCode::UNAUTHORIZED, "unauthorized", reason);
        }
        Err(AuthError::KeysUnavailable) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "signing keys unavailable; deliver it again",
            );
        }
    };
    let activity = match parse(&body) {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_body", &e),
    };
    if let Some(reason) = mismatch(&verified, &activity, st.config.tenant_id.as_deref()) {
        return error(StatusCode::FORBIDDEN, "forbidden", reason);
    }
    let channel = st.sink.channel().clone();
    let bot_id = st.config.bot_id();
    let answer_group = st.config.answers_group(&activity);
    let parsed = normalize::activity(&activity, &body, &channel, &bot_id, answer_group);
    let span = tracing::debug_span!(
        telemetry::SPAN_INBOUND,
        channel.kind = crate::KIND,
        channel.id = %channel,
        activity.kind = %short(&activity.kind),
    );
    let invoke = parsed.invoke_response;
    match record(&st, parsed).instrument(span).await {
        Ok(()) => match invoke {
            Some(body) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response(),
            None => (StatusCode::OK, Json(serde_json::json!({}))).into_response(),
        },
        Err(InboundError::Rejected(reason)) => error(StatusCode::BAD_REQUEST, "rejected", &reason),
        Err(InboundError::Unavailable(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "not recorded; deliver it again",
        ),
    }
}

/// The activity type for the span, bounded (it is platform data, not user data).
fn short(kind: &str) -> &str {
    let end = kind.char_indices().nth(40).map_or(kind.len(), |(i, _)| i);
    &kind[..end]
}

/// Learns the senders, stores the reference, hands everything to the core, in order.
async fn record(st: &Inbound, parsed: Parsed) -> Result<(), InboundError> {
    if let Some(reason) = parsed.ignored {
        debug!(reason, "Activity acknowledged without a record.");
    }
    if let Some((subject, reference)) = &parsed.reference {
        // Before `accept`: the core may answer at once, and the answer needs it.
        state::store_ref(&st.sink, subject, reference).await?;
    }
    for pending in parsed.messages {
        let mut msg = pending.message;
        if let Some(lookup) = &pending.lookup {
            identify(st, lookup, &mut msg.sender).await?;
        }
        let kind = msg.content.kind();
        let accepted = st.sink.accept(msg).await?;
        debug!(
            content = kind,
            duplicate = accepted.duplicate,
            "Inbound activity recorded."
        );
    }
    for (subject, report) in parsed.reachability {
        st.sink.reachability(&subject, report).await?;
    }
    Ok(())
}

/// Adds what Teams asserts about the sender (email or UPN, name), from the cache or a
/// member lookup. A failed lookup never loses the message: it is recorded without the
/// email (and the lookup is tried again with the next message).
async fn identify(
    st: &Inbound,
    lookup: &Lookup,
    sender: &mut ExternalIdentity,
) -> Result<(), InboundError> {
    let now_ms = (tandem_sdk::model::now().unix_timestamp_nanos() / 1_000_000) as i64;
    let cached = state::load_member(&st.sink, &sender.subject).await?;
    let fresh = cached
        .as_ref()
        .is_some_and(|f| now_ms - f.fetched_at_ms < MEMBER_TTL_MS && f.fetched_at_ms <= now_ms);
    let facts = if fresh {
        cached
    } else {
        let answer = tokio::time::timeout(
            LOOKUP_TIMEOUT,
            st.connector.member(
                &lookup.service_url,
                &lookup.conversation_id,
                &lookup.user_id,
            ),
        )
        .await;
        match answer {
            Ok(Ok(member)) => {
                let facts = facts(&member, now_ms);
                state::store_member(&st.sink, &sender.subject, &facts).await?;
                Some(facts)
            }
            Ok(Err(e)) => {
                warn!(
                    channel.id = %st.sink.channel(),
                    error.kind = e.kind().as_str(),
                    error = e.message(),
                    "Teams member lookup failed; the message is recorded with what was known before (if anything)."
                );
                cached
            }
            Err(_) => {
                warn!(
                    channel.id = %st.sink.channel(),
                    "Teams member lookup timed out; the message is recorded with what was known before (if anything)."
                );
                cached
            }
        }
    };
    if let Some(facts) = facts {
        if !facts.anonymous {
            sender.verified_email = facts.email;
        }
        if facts.display_name.is_some() {
            sender.display_name = facts.display_name;
        }
    }
    Ok(())
}

/// What a member lookup asserts: the email, else a UPN that is an address (a guest's
/// `…#EXT#@…` UPN is not); nothing for anonymous users.
pub(crate) fn facts(member: &crate::api::Member, now_ms: i64) -> MemberFacts {
    let anonymous = member
        .user_role
        .as_deref()
        .is_some_and(|r| r.eq_ignore_ascii_case("anonymous"));
    let looks_like_address = |s: &&String| {
        let s = s.trim();
        let mut parts = s.split('@');
        matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.'))
            && !s.contains(char::is_whitespace)
            && !s.to_ascii_uppercase().contains("#EXT#")
    };
    let email = if anonymous {
        None
    } else {
        member
            .email
            .as_ref()
            .filter(looks_like_address)
            .or(member
                .user_principal_name
                .as_ref()
                .filter(looks_like_address))
            .map(|s| s.trim().to_owned())
    };
    let given = [member.given_name.as_deref(), member.surname.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let display_name = Some(given)
        .filter(|g| !g.is_empty())
        .or_else(|| member.name.clone().filter(|n| !n.trim().is_empty()));
    MemberFacts {
        email,
        display_name,
        anonymous,
        fetched_at_ms: now_ms,
    }
}
