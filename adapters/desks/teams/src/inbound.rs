//! `POST /desks/teams/messages`: the desk bot's messaging endpoint. Verify the bearer JWT
//! (before the body is read as anything, with the Teams channel's verifier) → parse →
//! check the activity against the token (endorsed `channelId`, same `serviceUrl`, the
//! configured tenant) → classify → look up the handoff of the thread → hand the agent
//! action to the core, deduplicated on the activity id → answer.
//!
//! What counts: a `message` from a person in a handoff's thread becomes an agent message
//! (`<at>…</at>` mentions removed); a briefing button (`Action.Submit` data, or an
//! `adaptiveCard/action` invoke) becomes accepted / resolved / released. Everything else
//! (the bot's own posts, other threads, other activity types) is answered 200 without a
//! record.
//!
//! Answers: 200 once recorded (an invoke gets an InvokeResponse body); 401 for a missing
//! or invalid token and 403 for a token that does not vouch for the activity, nothing
//! recorded; 400 for a malformed body; 503 when the signing keys or the store are
//! unavailable (Bot Framework redelivers; recorded activities deduplicate on their id).

use crate::card::{ACTION_ACCEPT, ACTION_RELEASE, ACTION_RESOLVE};
use crate::config::TeamsDeskConfig;
use crate::threads::Threads;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use tandem_channel_teams::botframework::{AuthError, Verifier};
use tandem_sdk::handoff::Agent;
use tandem_sdk::{DeskAnswer, DeskEvent, DeskEventKind, DeskEventSink, InboundError};
use tracing::{debug, warn};

/// The messaging endpoint of the desk bot.
pub(crate) const PATH: &str = "/desks/teams/messages";
/// The InvokeResponse of a handled `adaptiveCard/action`.
const INVOKE_OK: &str =
    r#"{"statusCode":200,"type":"application/vnd.microsoft.activity.message","value":"Received."}"#;

/// What the route needs.
#[derive(Clone)]
pub(crate) struct Inbound {
    pub(crate) config: Arc<TeamsDeskConfig>,
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) sink: DeskEventSink,
    pub(crate) threads: Threads,
    /// Answers in the thread (an agent's refused action).
    pub(crate) connector: Arc<tandem_channel_teams::botframework::Connector>,
}

pub(crate) fn routes(inbound: Inbound) -> Router {
    Router::new()
        .route(PATH, post(receive))
        .layer(tandem_sdk::http::body_limit(
            tandem_sdk::http::DESK_EVENT_MAX_BODY,
        ))
        .with_state(inbound)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    tandem_sdk::http::json_error(status, code, message)
}

/// The parts of an activity the desk reads; odd fields read as absent.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Activity {
    pub(crate) kind: String,
    pub(crate) id: String,
    pub(crate) name: Option<String>,
    pub(crate) channel_id: String,
    pub(crate) service_url: String,
    pub(crate) tenant: Option<String>,
    pub(crate) conversation_id: String,
    pub(crate) from_id: String,
    pub(crate) from_name: Option<String>,
    pub(crate) from_aad: Option<String>,
    pub(crate) text: Option<String>,
    pub(crate) value: Option<Value>,
}

fn str_at(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().map(str::to_owned)
}

/// Parses an activity body (a JSON object).
pub(crate) fn parse(body: &[u8]) -> Result<Activity, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if !v.is_object() {
        return Err("an activity is a JSON object".into());
    }
    let s = |path: &[&str]| str_at(&v, path);
    Ok(Activity {
        kind: s(&["type"]).unwrap_or_default(),
        id: s(&["id"]).unwrap_or_default(),
        name: s(&["name"]),
        channel_id: s(&["channelId"]).unwrap_or_default(),
        service_url: s(&["serviceUrl"]).unwrap_or_default(),
        tenant: s(&["conversation", "tenantId"])
            .or_else(|| s(&["channelData", "tenant", "id"]))
            .filter(|t| !t.is_empty()),
        conversation_id: s(&["conversation", "id"]).unwrap_or_default(),
        from_id: s(&["from", "id"]).unwrap_or_default(),
        from_name: s(&["from", "name"]).filter(|n| !n.trim().is_empty()),
        from_aad: s(&["from", "aadObjectId"]).filter(|n| !n.trim().is_empty()),
        text: s(&["text"]),
        value: v.get("value").filter(|x| !x.is_null()).cloned(),
    })
}

/// What an activity asks of the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing; why (logged at DEBUG).
    Ignore(&'static str),
    /// A briefing button: the handoff it names and the action.
    Button {
        handoff_id: String,
        kind: DeskEventKind,
        invoke: bool,
    },
    /// A person wrote in a thread.
    Reply { text: String },
}

/// The `{"tandem": …, "handoff_id": …}` data of a button, wherever the activity puts it
/// (`value` of a message; `value.action.data` of an `adaptiveCard/action` invoke).
fn button_data(value: &Value) -> Option<(String, DeskEventKind)> {
    let data = [
        Some(value),
        value.pointer("/action/data"),
        value.get("data"),
    ]
    .into_iter()
    .flatten()
    .find(|d| d.get("tandem").is_some())?;
    let kind = match data.get("tandem")?.as_str()? {
        ACTION_ACCEPT => DeskEventKind::Accepted,
        ACTION_RESOLVE => DeskEventKind::Resolved,
        ACTION_RELEASE => DeskEventKind::Released,
        _ => return None,
    };
    let handoff_id = data.get("handoff_id")?.as_str()?.trim();
    (!handoff_id.is_empty()).then(|| (handoff_id.to_owned(), kind))
}

/// Removes `<at>…</at>` mentions (and the `&nbsp;` Teams puts around them).
pub(crate) fn strip_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<at") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</at>") {
            Some(end) => rest = &rest[start + end + "</at>".len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Classifies an authentic activity (pure).
pub(crate) fn classify(a: &Activity, bot_id: &str) -> Outcome {
    if a.from_id.is_empty() {
        return Outcome::Ignore("no sender");
    }
    if a.from_id == bot_id || a.from_id.starts_with("28:") {
        return Outcome::Ignore("a bot's own post");
    }
    let invoke = match a.kind.as_str() {
        "message" => false,
        "invoke" if a.name.as_deref() == Some("adaptiveCard/action") => true,
        "invoke" => return Outcome::Ignore("unsupported invoke"),
        _ => return Outcome::Ignore("not a message"),
    };
    if let Some((handoff_id, kind)) = a.value.as_ref().and_then(button_data) {
        return Outcome::Button {
            handoff_id,
            kind,
            invoke,
        };
    }
    if invoke {
        return Outcome::Ignore("not a Tandem button");
    }
    let text = strip_mentions(a.text.as_deref().unwrap_or_default());
    if text.is_empty() {
        return Outcome::Ignore("no text");
    }
    Outcome::Reply { text }
}

/// The channel part of a thread's conversation id (before `;messageid=`).
fn channel_of(conversation_id: &str) -> &str {
    conversation_id
        .split_once(';')
        .map_or(conversation_id, |(c, _)| c)
}

fn agent_of(a: &Activity) -> Agent {
    Agent {
        id: a.from_aad.clone().unwrap_or_else(|| a.from_id.clone()),
        name: a.from_name.clone(),
    }
}

fn ok(invoke: bool) -> Response {
    if invoke {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            INVOKE_OK,
        )
            .into_response()
    } else {
        (StatusCode::OK, Json(serde_json::json!({}))).into_response()
    }
}

fn failed(e: InboundError) -> Response {
    match e {
        InboundError::Rejected(reason) => error(StatusCode::BAD_REQUEST, "rejected", &reason),
        InboundError::Unavailable(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "not recorded; deliver it again",
        ),
    }
}

async fn receive(State(st): State<Inbound>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let verified = match st.verifier.verify(authorization).await {
        Ok(v) => v,
        Err(AuthError::Missing) => {
            warn!("Refused a Teams desk activity without a bearer token.");
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing bearer token",
            );
        }
        Err(AuthError::Invalid(reason)) => {
            warn!(
                reason,
                "Refused a Teams desk activity with an invalid token."
            );
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
    if let Some(reason) = verified.mismatch(
        &activity.channel_id,
        &activity.service_url,
        activity.tenant.as_deref(),
        st.config.tenant_id.as_deref(),
    ) {
        warn!(
            reason,
            "Refused a Teams desk activity its token does not vouch for."
        );
        return error(StatusCode::FORBIDDEN, "forbidden", reason);
    }
    let outcome = classify(&activity, &st.config.bot_id());
    let invoke = matches!(outcome, Outcome::Button { invoke: true, .. });
    let (handoff_id, kind) = match outcome {
        Outcome::Ignore(why) => {
            debug!(why, "Teams desk activity acknowledged without a record.");
            return ok(false);
        }
        Outcome::Button {
            handoff_id, kind, ..
        } => {
            // Only buttons of a handoff this desk posted, pressed in its channel.
            match st.threads.thread_of(&handoff_id).await {
                Ok(Some(thread))
                    if channel_of(&thread) == channel_of(&activity.conversation_id) =>
                {
                    (handoff_id, kind)
                }
                Ok(_) => {
                    debug!("Teams button for a handoff this desk has no thread of; ignored.");
                    return ok(invoke);
                }
                Err(e) => return failed(e),
            }
        }
        Outcome::Reply { text } => match st.threads.handoff_of(&activity.conversation_id).await {
            // `!transfer <agent id>` or `!transfer queue <name>` hands the handoff over.
            Ok(Some(h)) => match tandem_sdk::parse_transfer_command(&text) {
                Some(to) => (h, DeskEventKind::Transferred { to }),
                None => (h, DeskEventKind::AgentMessage { text }),
            },
            Ok(None) => {
                debug!("Teams message outside any handoff thread; ignored.");
                return ok(false);
            }
            Err(e) => return failed(e),
        },
    };
    if activity.id.trim().is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "the activity has no id",
        );
    }
    let event = DeskEvent {
        handoff_id: handoff_id.clone(),
        kind,
        agent: Some(agent_of(&activity)),
    };
    match st.sink.submit(&activity.id, event).await {
        Ok(DeskAnswer::Recorded(a)) => {
            debug!(duplicate = a.duplicate, "Teams agent action recorded.");
            ok(invoke)
        }
        Ok(DeskAnswer::Refused(r)) => {
            let thread = match st.threads.thread_of(&handoff_id).await {
                Ok(Some(t)) => t,
                _ => activity.conversation_id.clone(),
            };
            tell_refused(&st, thread, &r.message);
            ok(invoke)
        }
        Err(e) => failed(e),
    }
}

/// Answers a refused action with a reply in the handoff's thread (in the background:
/// the activity is acknowledged at once). The refused action has no other effect.
fn tell_refused(st: &Inbound, thread: String, message: &str) {
    let (connector, config) = (st.connector.clone(), st.config.clone());
    let activity = crate::card::text_activity(message, &config.bot_id());
    tokio::spawn(async move {
        if let Err(error) = connector
            .send_activity(&config.service_url, &thread, &activity)
            .await
        {
            debug!(%error, "Telling a Teams agent about a refused action failed.");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BOT: &str = "28:desk-app";

    fn activity(edit: impl FnOnce(&mut Value)) -> Activity {
        let mut v = json!({
            "type": "message",
            "id": "1767261700123",
            "channelId": "msteams",
            "serviceUrl": "https://smba.trafficmanager.net/emea/",
            "from": {"id": "29:agent", "name": "Jonas Weber", "aadObjectId": "aad-jonas"},
            "conversation": {"id": "19:abc@thread.tacv2;messageid=1767261600000", "conversationType": "channel", "tenantId": "t-1"},
            "recipient": {"id": BOT},
            "text": "<at>Tandem Desk</at>&nbsp;Hi Alice, I'm Jonas.",
        });
        edit(&mut v);
        parse(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_thread_reply_is_an_agent_message_without_mentions() {
        let a = activity(|_| {});
        assert_eq!(
            classify(&a, BOT),
            Outcome::Reply {
                text: "Hi Alice, I'm Jonas.".into()
            }
        );
        let agent = agent_of(&a);
        assert_eq!(agent.id, "aad-jonas");
        assert_eq!(agent.name.as_deref(), Some("Jonas Weber"));
        let anon = activity(|v| {
            v["from"].as_object_mut().unwrap().remove("aadObjectId");
        });
        assert_eq!(agent_of(&anon).id, "29:agent");
        assert_eq!(a.tenant.as_deref(), Some("t-1"));
        assert_eq!(channel_of(&a.conversation_id), "19:abc@thread.tacv2");
    }

    #[test]
    fn buttons_map_to_agent_actions_in_messages_and_invokes() {
        for (action, kind) in [
            ("accept", DeskEventKind::Accepted),
            ("resolve", DeskEventKind::Resolved),
            ("release", DeskEventKind::Released),
        ] {
            let submit = activity(|v| {
                v["value"] = json!({"tandem": action, "handoff_id": "h-1"});
                v.as_object_mut().unwrap().remove("text");
            });
            assert_eq!(
                classify(&submit, BOT),
                Outcome::Button {
                    handoff_id: "h-1".into(),
                    kind: kind.clone(),
                    invoke: false
                }
            );
            let invoke = activity(|v| {
                v["type"] = "invoke".into();
                v["name"] = "adaptiveCard/action".into();
                v["value"] = json!({"action": {"type": "Action.Submit", "data": {"tandem": action, "handoff_id": "h-1"}}});
            });
            assert_eq!(
                classify(&invoke, BOT),
                Outcome::Button {
                    handoff_id: "h-1".into(),
                    kind,
                    invoke: true
                }
            );
        }
    }

    #[test]
    fn other_activities_are_ignored() {
        let cases: Vec<(Activity, &str)> = vec![
            (
                activity(|v| v["from"]["id"] = BOT.into()),
                "a bot's own post",
            ),
            (
                activity(|v| v["type"] = "conversationUpdate".into()),
                "not a message",
            ),
            (
                activity(|v| {
                    v["type"] = "invoke".into();
                    v["name"] = "task/fetch".into();
                }),
                "unsupported invoke",
            ),
            (
                activity(|v| v["text"] = "<at>Tandem Desk</at>".into()),
                "no text",
            ),
            (
                activity(|v| {
                    v["text"] = Value::Null;
                    v["value"] = json!({"tandem": "explode", "handoff_id": "h-1"});
                }),
                "no text",
            ),
            (activity(|v| v["from"] = json!({"name": "x"})), "no sender"),
        ];
        for (a, why) in cases {
            assert_eq!(classify(&a, BOT), Outcome::Ignore(why));
        }
    }

    #[test]
    fn odd_bodies_never_panic() {
        for body in [
            &b"[]"[..],
            b"null",
            b"{",
            b"\xff\xfe",
            br#"{"type": 5, "from": [], "conversation": "x", "value": 3, "text": {}}"#,
        ] {
            if let Ok(a) = parse(body) {
                let _ = classify(&a, BOT);
            }
        }
        assert_eq!(strip_mentions("a <at>b"), "a");
        assert_eq!(strip_mentions("<at>x</at> hi <at>y</at>!"), "hi !");
    }
}

/// Fuzz targets of the activity parser (`TANDEM_FUZZ_CASES`, see `docs/SECURITY.md`).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use tandem_testkit::fuzz;

    const KEYS: &[&str] = &[
        "type",
        "id",
        "name",
        "from",
        "aadObjectId",
        "conversation",
        "text",
        "value",
        "action",
        "data",
        "tandem",
        "handoff_id",
        "message",
        "invoke",
        "adaptiveCard/action",
        "accept",
        "resolve",
        "release",
        "serviceUrl",
        "replyToId",
    ];
    const SEED: &[u8] = br#"{"type":"message","id":"1","from":{"id":"29:1a","name":"Jonas","aadObjectId":"0b1c"},"conversation":{"id":"19:x@thread.tacv2;messageid=1"},"text":"<at>Tandem</at> !transfer queue billing","value":{"tandem":"accept","handoff_id":"ho_1"}}"#;

    fn run(bytes: &[u8]) {
        if let Ok(a) = parse(bytes) {
            let _ = classify(&a, "28:desk-app");
            if let Outcome::Reply { text } = classify(&a, "28:desk-app") {
                let _ = tandem_sdk::parse_transfer_command(&text);
            }
        }
    }

    proptest! {
        #![proptest_config(fuzz::config())]

        #[test]
        fn fuzz_activity_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
            run(&bytes);
        }

        #[test]
        fn fuzz_activity_parser_never_panics_on_shaped_json(v in fuzz::json_with_keys(KEYS)) {
            run(v.to_string().as_bytes());
        }

        #[test]
        fn fuzz_activity_parser_never_panics_on_mutated_activities(bytes in fuzz::mutated(SEED)) {
            run(&bytes);
        }
    }
}
