//! The smallest complete Tandem desk adapter, annotated: start here to connect an agent
//! desk. `docs/ADAPTERS.md` builds it step by step; `tests/conformance.rs` runs the desk
//! conformance kit against it (the rules are in `crates/tandem-sdk/DESK-SPEC.md`).
//!
//! A desk kind is a [`DeskFactory`]: a `KIND` name, a config type, a pure `validate` and
//! a `build` that returns the delivering half ([`AgentDesk`]) and the routes where the
//! desk's agents act. The "echo" desk is as small as a desk gets:
//! - every delivery (a new handoff, a later customer message, the end of a handoff) is
//!   one `POST {url}` of `{"delivery":"..","handoff":"..","event":"open"|"message"|
//!   "closed"|"updated","lines":["customer: ..", ..]}` with the shared token in
//!   `X-Echo-Token` and the delivery id in `Idempotency-Key` (stable across retries: the
//!   desk shows a retried delivery once);
//! - agents act at `POST /desks/echo/actions` with the same token and
//!   `{"id":"<the desk's event id>","handoff":"..","agent":"..","action":"accept"|"reply"|
//!   "resolve"|"release"|"transfer","text":"..","to_agent":"..","to_queue":".."}`.

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;
use tandem_sdk::handoff::Agent;
use tandem_sdk::signature::header_secret_ok;
use tandem_sdk::{
    AdapterError, AgentDesk, BuiltDesk, ConfigErrors, DeskAnswer, DeskCapabilities, DeskContext,
    DeskDelivery, DeskEvent, DeskEventKind, DeskEventSink, DeskFactory, DeskOp, DeskReceipt,
    InboundError, Secret, TransferTarget,
};

/// `[desks.echo]`; `deny_unknown_fields` makes a typo an error with its path.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EchoDeskConfig {
    /// Where deliveries are posted; configurable so tests point it at a local fake.
    pub url: String,
    /// The shared token: sent with deliveries, checked on agent actions.
    pub token: Secret,
}

/// The `echo` desk kind.
#[derive(Debug, Clone, Copy)]
pub struct EchoDesk;

impl DeskFactory for EchoDesk {
    const KIND: &'static str = "echo";
    type Config = EchoDeskConfig;

    // Pure (`tandem check` runs it); every problem, each with its key.
    fn validate(config: &Self::Config) -> Result<(), ConfigErrors> {
        let mut errors = ConfigErrors::default();
        match url::Url::parse(&config.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => errors.push("url", "must be an http(s) URL"),
        }
        if config.token.expose().len() < 8 {
            errors.push("token", "must be at least 8 characters");
        }
        errors.into_result()
    }

    async fn build(config: Self::Config, cx: DeskContext) -> Result<BuiltDesk, AdapterError> {
        let routes = Router::new()
            .route("/desks/echo/actions", post(act))
            // Agent actions are small: refuse big bodies before reading them.
            .layer(tandem_sdk::http::body_limit(
                tandem_sdk::http::DESK_EVENT_MAX_BODY,
            ))
            .with_state(Actions {
                token: config.token.clone(),
                sink: cx.events.clone(),
            });
        Ok(BuiltDesk {
            desk: Arc::new(EchoDeskClient {
                http: cx.http.clone(),
                config,
                // Agents accept explicitly (otherwise their first reply accepts).
                caps: DeskCapabilities { accept: true },
            }),
            routes: Some(routes),
            worker: None,
        })
    }
}

/// The delivering half.
struct EchoDeskClient {
    http: reqwest::Client,
    config: EchoDeskConfig,
    caps: DeskCapabilities,
}

#[async_trait]
impl AgentDesk for EchoDeskClient {
    fn capabilities(&self) -> &DeskCapabilities {
        &self.caps
    }

    async fn deliver(&self, delivery: DeskDelivery) -> Result<DeskReceipt, AdapterError> {
        let (event, lines) = match &delivery.op {
            // The briefing: the summary, then the transcript, so the agent reads the
            // case before answering.
            DeskOp::Open(h) => (
                "open",
                std::iter::once(format!("summary: {}", h.summary.text))
                    .chain(
                        h.transcript
                            .iter()
                            .map(|l| format!("{}: {}", l.from, l.text)),
                    )
                    .collect(),
            ),
            DeskOp::Append(m) => (
                "message",
                vec![format!("{}: {}", m.message.from, m.message.text)],
            ),
            DeskOp::Close(c) => ("closed", vec![format!("closed: {}", c.reason)]),
            DeskOp::Update(u) => ("updated", vec![format!("{}: {:?}", u.change, u.target)]),
        };
        let handoff = delivery.op.handoff_id().to_owned();
        let body = serde_json::json!({
            "delivery": delivery.id, "handoff": handoff, "event": event, "lines": lines,
        });
        // One request per delivery and no retry here: the outbox retries what we classify
        // as retryable, with the same delivery id (hence the idempotency key).
        let response = self
            .http
            .post(&self.config.url)
            .header("x-echo-token", self.config.token.expose())
            .header("idempotency-key", &delivery.id)
            .json(&body)
            .send()
            .await
            .map_err(|e| AdapterError::transient("echo desk unreachable").with_source(e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = tandem_sdk::http::retry_after(response.headers());
            return Err(AdapterError::from_status(
                status.as_u16(),
                retry_after,
                format!("echo desk answered {status}"),
            ));
        }
        // The desk's thread is the handoff itself: an `Open` retried returns the same one.
        Ok(DeskReceipt {
            thread: Some(handoff),
        })
    }
}

#[derive(Clone)]
struct Actions {
    token: Secret,
    sink: DeskEventSink,
}

/// An agent action as the echo desk posts it.
#[derive(Deserialize)]
struct Action {
    id: String,
    handoff: String,
    agent: String,
    action: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    to_agent: Option<String>,
    #[serde(default)]
    to_queue: Option<String>,
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

/// What an action means for the core; `Err` says why it cannot be read.
fn event_of(a: Action) -> Result<(String, DeskEvent), &'static str> {
    let kind = match (a.action.as_str(), a.text, a.to_agent, a.to_queue) {
        ("accept", ..) => DeskEventKind::Accepted,
        ("reply", Some(text), ..) if !text.trim().is_empty() => {
            DeskEventKind::AgentMessage { text }
        }
        ("resolve", ..) => DeskEventKind::Resolved,
        ("release", ..) => DeskEventKind::Released,
        ("transfer", _, Some(id), _) => DeskEventKind::Transferred {
            to: TransferTarget::Agent(Agent { id, name: None }),
        },
        ("transfer", _, None, Some(queue)) => DeskEventKind::Transferred {
            to: TransferTarget::Queue(queue),
        },
        _ => return Err("unknown action, or a reply without text, or a transfer without target"),
    };
    if a.id.is_empty() || a.handoff.is_empty() || a.agent.is_empty() {
        return Err("id, handoff and agent are required");
    }
    let event = DeskEvent {
        handoff_id: a.handoff,
        kind,
        agent: Some(Agent {
            id: a.agent,
            name: None,
        }),
    };
    // The desk's own event id, from the authenticated body: a redelivery maps to the same
    // key and the core records it once.
    Ok((format!("action:{}", a.id), event))
}

async fn act(State(st): State<Actions>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    // Authenticity first, in constant time; nothing from a forged request goes further.
    if !header_secret_ok(&headers, "x-echo-token", st.token.expose()) {
        return answer(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "bad_token"}),
        );
    }
    let parsed = serde_json::from_slice::<Action>(&body)
        .map_err(|_| "not an echo desk action")
        .and_then(event_of);
    let (key, event) = match parsed {
        Ok(p) => p,
        Err(why) => {
            return answer(StatusCode::BAD_REQUEST, serde_json::json!({"error": why}));
        }
    };
    // Answer 2xx only once the core recorded the action; 503 makes the desk send it again.
    match st.sink.submit(&key, event).await {
        Ok(DeskAnswer::Recorded(a)) => answer(
            StatusCode::OK,
            serde_json::json!({"duplicate": a.duplicate}),
        ),
        // Another agent owns the handoff: tell the agent who acted, with the reason.
        Ok(DeskAnswer::Refused(r)) => answer(
            StatusCode::CONFLICT,
            serde_json::json!({"error": r.code, "message": r.message}),
        ),
        Err(InboundError::Rejected(_)) => answer(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "rejected"}),
        ),
        Err(InboundError::Unavailable(_)) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"error": "unavailable"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_reports_every_problem_with_its_key() {
        let errors = EchoDesk::validate(&EchoDeskConfig {
            url: "not a url".into(),
            token: Secret::new("short"),
        })
        .unwrap_err();
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["url", "token"]);
    }
}
