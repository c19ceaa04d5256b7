//! `POST /desks/slack/interactions`: button clicks. The body is form-encoded
//! (`payload=<urlencoded JSON>`) and signed as received; `block_actions` on the briefing's
//! Accept / Resolve / Return-to-bot buttons become `Accepted` / `Resolved` / `Released`
//! with the clicking user as the agent, deduplicated on the action's `action_ts`, the user
//! and the action. Slack gets its empty 200 at once; settling the root message (buttons
//! replaced by who did what) happens afterwards, best effort.

use crate::blocks::{ACTION_ACCEPT, ACTION_RELEASE, ACTION_RESOLVE};
use crate::events::{Inbound, refused, submit_failed};
use crate::outbound::settle_root;
use crate::verify;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use tandem_sdk::handoff::Agent;
use tandem_sdk::lenient;
use tandem_sdk::{DeskAnswer, DeskEvent, DeskEventKind};
use tracing::{debug, warn};

/// The parts of an interaction payload the desk reads. Lenient: legacy
/// `interactive_message` payloads (actions without `action_id`), dialogs and shortcuts
/// parse, and are acknowledged with nothing to do.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Payload {
    #[serde(rename = "type", deserialize_with = "lenient::or_default")]
    pub(crate) kind: String,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) user: Option<User>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) actions: Vec<Action>,
}

/// The clicking user.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct User {
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) id: String,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) name: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) username: Option<String>,
}

/// One action of a `block_actions` payload.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Action {
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) action_id: String,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) value: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) action_ts: Option<String>,
}

/// One agent action found in a payload, with its dedupe key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Clicked {
    pub(crate) dedupe_key: String,
    pub(crate) event: DeskEvent,
}

/// The `payload` field of a form-encoded body.
pub(crate) fn payload_of(body: &[u8]) -> Option<Payload> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .and_then(|(_, v)| serde_json::from_str(&v).ok())
}

/// The agent actions of a payload (unknown actions and other payload types yield none).
pub(crate) fn clicked(p: Payload) -> Vec<Clicked> {
    if p.kind != "block_actions" {
        return Vec::new();
    }
    let Some(user) = p.user.filter(|u| !u.id.is_empty()) else {
        return Vec::new();
    };
    let name = user.name.clone().or(user.username.clone());
    p.actions
        .into_iter()
        .filter_map(|a| {
            let kind = match a.action_id.as_str() {
                ACTION_ACCEPT => DeskEventKind::Accepted,
                ACTION_RESOLVE => DeskEventKind::Resolved,
                ACTION_RELEASE => DeskEventKind::Released,
                _ => return None,
            };
            let handoff_id = a.value.filter(|v| !v.is_empty())?;
            let action_ts = a.action_ts.unwrap_or_default();
            Some(Clicked {
                dedupe_key: format!("action:{action_ts}:{}:{}", user.id, a.action_id),
                event: DeskEvent {
                    handoff_id,
                    kind,
                    agent: Some(Agent {
                        id: user.id.clone(),
                        name: name.clone(),
                    }),
                },
            })
        })
        .collect()
}

pub(crate) async fn receive(
    State(st): State<Inbound>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Slack's unsigned certificate check.
    if url::form_urlencoded::parse(&body).any(|(k, v)| k == "ssl_check" && v == "1") {
        return StatusCode::OK.into_response();
    }
    let secret = st.config.signing_secret.expose().as_bytes();
    if let Err(why) = verify::verify(secret, &headers, &body, verify::now_secs()) {
        warn!(reason = ?why, "Refused an unsigned or badly signed Slack interaction.");
        return refused(why);
    }
    let Some(payload) = payload_of(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "bad_body", "message": "no readable payload"})),
        )
            .into_response();
    };
    for click in clicked(payload) {
        let note = settled_note(&click.event);
        let handoff_id = click.event.handoff_id.clone();
        let user = click.event.agent.as_ref().map(|a| a.id.clone());
        match st.sink.submit(&click.dedupe_key, click.event).await {
            Ok(DeskAnswer::Refused(r)) => {
                if let (Ok(Some(root)), Some(user)) = (st.threads.root(&handoff_id).await, user) {
                    crate::events::tell_refused(&st, root.channel, root.ts, &user, &r);
                }
            }
            Ok(DeskAnswer::Recorded(a)) if !a.duplicate => {
                let st = st.clone();
                tokio::spawn(async move {
                    if let Ok(Some(root)) = st.threads.root(&handoff_id).await {
                        settle_root(&st.api, &st.threads, &handoff_id, &root, &note).await;
                    }
                });
            }
            Ok(_) => debug!("Slack button click redelivered; no second effect."),
            Err(e) => return submit_failed(e),
        }
    }
    StatusCode::OK.into_response()
}

/// What the root message says once an agent clicked (Accept keeps the other buttons).
fn settled_note(event: &DeskEvent) -> String {
    let who = event
        .agent
        .as_ref()
        .map(|a| format!("<@{}>", a.id))
        .unwrap_or_else(|| "an agent".to_owned());
    match event.kind {
        DeskEventKind::Accepted => format!("Accepted by {who}"),
        DeskEventKind::Resolved => format!("Resolved by {who}"),
        DeskEventKind::Released => format!("Returned to the bot by {who}"),
        DeskEventKind::AgentMessage { .. } | DeskEventKind::AgentMedia { .. } => {
            format!("Answered by {who}")
        }
        DeskEventKind::Transferred { .. } => format!("Transferred by {who}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &[u8] =
        include_bytes!("../tests/fixtures/interactivity_block_actions_body.form.txt");

    #[test]
    fn fixture_form_body_decodes_to_the_payload_fixture() {
        let from_form: serde_json::Value = url::form_urlencoded::parse(FORM)
            .find(|(k, _)| k == "payload")
            .map(|(_, v)| serde_json::from_str(&v).unwrap())
            .unwrap();
        let direct: serde_json::Value = serde_json::from_str(include_str!(
            "../tests/fixtures/interactivity_block_actions_payload.json"
        ))
        .unwrap();
        assert_eq!(from_form, direct);
        let p = payload_of(FORM).unwrap();
        assert_eq!(p.kind, "block_actions");
        assert_eq!(p.user.as_ref().unwrap().id, "U0AGENT001");
        assert_eq!(p.actions[0].action_ts.as_deref(), Some("1767261700.123456"));
        // The fixture's button is another app's ("claim_conversation"): not ours.
        assert!(clicked(p).is_empty());
    }

    fn ours(action_id: &str) -> Payload {
        let mut v: serde_json::Value = serde_json::from_str(include_str!(
            "../tests/fixtures/interactivity_block_actions_payload.json"
        ))
        .unwrap();
        v["actions"][0]["action_id"] = action_id.into();
        v["actions"][0]["value"] = "h-1".into();
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn our_buttons_map_to_agent_actions() {
        for (id, kind) in [
            (ACTION_ACCEPT, DeskEventKind::Accepted),
            (ACTION_RESOLVE, DeskEventKind::Resolved),
            (ACTION_RELEASE, DeskEventKind::Released),
        ] {
            let got = clicked(ours(id));
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].event.kind, kind);
            assert_eq!(got[0].event.handoff_id, "h-1");
            let agent = got[0].event.agent.as_ref().unwrap();
            assert_eq!(agent.id, "U0AGENT001");
            assert_eq!(agent.name.as_deref(), Some("jonas.weber"));
            assert_eq!(
                got[0].dedupe_key,
                format!("action:1767261700.123456:U0AGENT001:{id}")
            );
        }
        let mut other = ours(ACTION_ACCEPT);
        other.kind = "view_submission".into();
        assert!(clicked(other).is_empty());
    }
}
