//! `POST /desks/slack/events`: the Events API. Every request is signed (v0, five-minute
//! window); `url_verification` is answered with its challenge; `event_callback` message
//! events that are human replies in a handoff's thread become agent messages, deduplicated
//! on `event_id` so Slack's redeliveries (`X-Slack-Retry-Num`) have one effect. The desk's
//! own posts coming back (and any other bot's), edits, deletions and joins are dropped.

use crate::api::{OwnBot, SlackApi};
use crate::config::SlackDeskConfig;
use crate::delivery::ReplyRef;
use crate::threads::Threads;
use crate::verify::{self, Refusal};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use std::sync::Arc;
use tandem_sdk::handoff::Agent;
use tandem_sdk::lenient;
use tandem_sdk::{
    DeskAnswer, DeskEvent, DeskEventKind, DeskEventSink, DeskRefusal, InboundError,
    parse_transfer_command,
};
use tracing::{debug, warn};

/// What the inbound routes share.
#[derive(Clone)]
pub(crate) struct Inbound {
    pub(crate) config: Arc<SlackDeskConfig>,
    pub(crate) sink: DeskEventSink,
    pub(crate) threads: Threads,
    pub(crate) api: SlackApi,
    pub(crate) own: OwnBot,
}

/// The Events API envelope (and the unwrapped `url_verification`). Lenient: a field of
/// an unexpected shape (Slack sends `channel` and `user` as objects in some events) is
/// read as absent, so events the desk does not use are acknowledged, never refused.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Envelope {
    #[serde(rename = "type", deserialize_with = "lenient::or_default")]
    pub(crate) kind: String,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) challenge: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) event_id: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) event: Option<MessageEvent>,
}

/// The fields of an inner event the desk looks at.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MessageEvent {
    #[serde(rename = "type", deserialize_with = "lenient::or_default")]
    pub(crate) kind: String,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) subtype: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) channel: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) user: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) text: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) ts: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) thread_ts: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) bot_id: Option<String>,
    #[serde(deserialize_with = "lenient::or_default")]
    pub(crate) hidden: bool,
}

/// What an Events API request means for the desk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answer the `url_verification` challenge.
    Challenge(String),
    /// A human's reply in a thread.
    AgentReply {
        event_id: String,
        channel: String,
        thread_ts: String,
        ts: String,
        user: String,
        text: String,
    },
    /// Nothing to do (acknowledged with 200).
    Ignore(&'static str),
}

/// Decides what an envelope means, given who the desk's bot is.
pub(crate) fn classify(env: Envelope, own: &OwnBot) -> Outcome {
    match env.kind.as_str() {
        "url_verification" => {
            return match env.challenge {
                Some(c) => Outcome::Challenge(c),
                None => Outcome::Ignore("url_verification without a challenge"),
            };
        }
        "event_callback" => {}
        _ => return Outcome::Ignore("not an event callback"),
    }
    let Some(event_id) = env.event_id.filter(|e| !e.is_empty()) else {
        return Outcome::Ignore("no event_id");
    };
    let Some(ev) = env.event else {
        return Outcome::Ignore("no event");
    };
    if ev.kind != "message" {
        return Outcome::Ignore("not a message");
    }
    if ev.hidden {
        return Outcome::Ignore("hidden (edit or deletion)");
    }
    // Plain messages have no subtype; these subtypes are still a person writing.
    if let Some(sub) = ev.subtype.as_deref()
        && !matches!(sub, "thread_broadcast" | "file_share" | "me_message")
    {
        return Outcome::Ignore("message subtype");
    }
    if let Some(bot) = ev.bot_id.as_deref() {
        // Own echoes carry our bot_id; other apps are not agents either (and without
        // auth.test's answer every bot message is treated as a possible echo).
        return if own.bot_id.as_deref() == Some(bot) {
            Outcome::Ignore("own bot echo")
        } else {
            Outcome::Ignore("bot message")
        };
    }
    let Some(user) = ev.user.filter(|u| !u.is_empty()) else {
        return Outcome::Ignore("no user");
    };
    if own.user_id.as_deref() == Some(user.as_str()) {
        return Outcome::Ignore("own bot user");
    }
    let (Some(channel), Some(ts), Some(thread_ts)) = (ev.channel, ev.ts, ev.thread_ts) else {
        return Outcome::Ignore("not in a thread");
    };
    if ts == thread_ts {
        return Outcome::Ignore("thread parent");
    }
    let Some(text) = ev.text.filter(|t| !t.trim().is_empty()) else {
        return Outcome::Ignore("no text");
    };
    Outcome::AgentReply {
        event_id,
        channel,
        thread_ts,
        ts,
        user,
        text,
    }
}

/// The refusal answer shared by the inbound routes (no retries from Slack for it).
pub(crate) fn refused(why: Refusal) -> Response {
    let message = match why {
        Refusal::Missing => "missing X-Slack-Signature or X-Slack-Request-Timestamp",
        Refusal::Stale => "X-Slack-Request-Timestamp outside the five-minute window",
        Refusal::Mismatch => "X-Slack-Signature does not match",
    };
    (
        StatusCode::UNAUTHORIZED,
        [("x-slack-no-retry", "1")],
        Json(serde_json::json!({"error": "bad_signature", "message": message})),
    )
        .into_response()
}

/// Tells `user`, in the handoff's thread, that their action was refused (in the
/// background: Slack wants its answer within three seconds). The refused action has no
/// other effect.
pub(crate) fn tell_refused(
    st: &Inbound,
    channel: String,
    thread_ts: String,
    user: &str,
    refusal: &DeskRefusal,
) {
    let text = format!("<@{user}> {}", refusal.message);
    let api = st.api.clone();
    tokio::spawn(async move {
        if let Err(error) = api
            .post(&text, None, Some(&thread_ts), Some(&channel))
            .await
        {
            debug!(%error, "Telling a Slack agent about a refused action failed.");
        }
    });
}

/// How a failed submission is answered.
pub(crate) fn submit_failed(e: InboundError) -> Response {
    match e {
        InboundError::Rejected(reason) => (
            StatusCode::BAD_REQUEST,
            [("x-slack-no-retry", "1")],
            Json(serde_json::json!({"error": "rejected", "message": reason})),
        )
            .into_response(),
        // Not recorded: let Slack send it again.
        InboundError::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"error": "unavailable"})),
        )
            .into_response(),
    }
}

pub(crate) fn routes(state: Inbound) -> Router {
    Router::new()
        .route("/desks/slack/events", axum::routing::post(receive))
        .route(
            "/desks/slack/interactions",
            axum::routing::post(crate::interactions::receive),
        )
        .layer(tandem_sdk::http::body_limit(
            tandem_sdk::http::DESK_EVENT_MAX_BODY,
        ))
        .with_state(state)
}

async fn receive(State(st): State<Inbound>, headers: HeaderMap, body: Bytes) -> Response {
    let secret = st.config.signing_secret.expose().as_bytes();
    if let Err(why) = verify::verify(secret, &headers, &body, verify::now_secs()) {
        warn!(reason = ?why, "Refused an unsigned or badly signed Slack event.");
        return refused(why);
    }
    // Only a body that is not JSON is refused; any JSON event is classified.
    let env: Envelope = match serde_json::from_slice(&body) {
        Ok(env) => env,
        Err(_) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({"error": "bad_body"})),
            )
                .into_response();
        }
    };
    match classify(env, &st.own) {
        Outcome::Challenge(challenge) => {
            Json(serde_json::json!({ "challenge": challenge })).into_response()
        }
        Outcome::Ignore(why) => {
            debug!(why, "Slack event ignored.");
            StatusCode::OK.into_response()
        }
        Outcome::AgentReply {
            event_id,
            channel,
            thread_ts,
            ts,
            user,
            text,
        } => {
            let handoff_id = match st.threads.handoff_of(&channel, &thread_ts).await {
                Ok(Some(h)) => h,
                Ok(None) => {
                    debug!("Slack thread reply outside any handoff thread; ignored.");
                    return StatusCode::OK.into_response();
                }
                Err(e) => return submit_failed(e),
            };
            // `!transfer <@U…>` or `!transfer queue <name>` hands the handoff over.
            let kind = match parse_transfer_command(&text) {
                Some(to) => DeskEventKind::Transferred { to },
                None => {
                    // Before it is recorded: its delivery state may be reported at once.
                    let reply = ReplyRef {
                        channel: channel.clone(),
                        thread_ts: thread_ts.clone(),
                        ts,
                        user: user.clone(),
                    };
                    st.threads.remember_reply(&event_id, &reply).await;
                    DeskEventKind::AgentMessage { text }
                }
            };
            let event = DeskEvent {
                handoff_id,
                kind,
                agent: Some(Agent {
                    id: user.clone(),
                    name: None,
                }),
            };
            match st.sink.submit(&event_id, event).await {
                Ok(DeskAnswer::Recorded(a)) => {
                    debug!(duplicate = a.duplicate, "Slack agent reply recorded.");
                    StatusCode::OK.into_response()
                }
                Ok(DeskAnswer::Refused(r)) => {
                    tell_refused(&st, channel, thread_ts, &user, &r);
                    StatusCode::OK.into_response()
                }
                Err(e) => submit_failed(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> OwnBot {
        OwnBot {
            user_id: Some("U0BOTUSER1".into()),
            bot_id: Some("B0GATEWAY1".into()),
        }
    }

    fn parse(text: &str) -> Envelope {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn url_verification_is_answered() {
        let env = parse(include_str!("../tests/fixtures/url_verification.json"));
        assert_eq!(
            classify(env, &own()),
            Outcome::Challenge("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".into())
        );
    }

    #[test]
    fn agent_thread_reply_is_relayed() {
        let env = parse(include_str!(
            "../tests/fixtures/event_message_in_thread_from_agent.json"
        ));
        assert_eq!(
            classify(env, &own()),
            Outcome::AgentReply {
                event_id: "Ev0A1B2C3D4E".into(),
                channel: "C0SUPPORT1".into(),
                thread_ts: "1767261600.000100".into(),
                ts: "1767261725.000200".into(),
                user: "U0AGENT001".into(),
                text: "Hi Lena, I'm Jonas. I've just requested a replacement for order A-1042."
                    .into(),
            }
        );
    }

    #[test]
    fn own_echo_is_dropped_with_or_without_auth_test() {
        let text = include_str!("../tests/fixtures/event_message_own_bot_echo.json");
        assert_eq!(
            classify(parse(text), &own()),
            Outcome::Ignore("own bot echo")
        );
        assert_eq!(
            classify(parse(text), &OwnBot::default()),
            Outcome::Ignore("bot message")
        );
    }

    fn with_event(edit: impl FnOnce(&mut serde_json::Value)) -> Envelope {
        let mut v: serde_json::Value = serde_json::from_str(include_str!(
            "../tests/fixtures/event_message_in_thread_from_agent.json"
        ))
        .unwrap();
        edit(&mut v["event"]);
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn non_human_or_non_thread_messages_are_dropped() {
        let cases: Vec<(Envelope, &str)> = vec![
            (
                with_event(|e| e["subtype"] = "bot_message".into()),
                "message subtype",
            ),
            (
                with_event(|e| {
                    e["subtype"] = "message_changed".into();
                    e["hidden"] = true.into();
                }),
                "hidden (edit or deletion)",
            ),
            (
                with_event(|e| e["subtype"] = "channel_join".into()),
                "message subtype",
            ),
            (
                with_event(|e| e["user"] = "U0BOTUSER1".into()),
                "own bot user",
            ),
            (
                with_event(|e| e["thread_ts"] = e["ts"].clone()),
                "thread parent",
            ),
            (
                with_event(|e| {
                    e.as_object_mut().unwrap().remove("thread_ts");
                }),
                "not in a thread",
            ),
            (with_event(|e| e["text"] = "  ".into()), "no text"),
            (
                with_event(|e| e["type"] = "reaction_added".into()),
                "not a message",
            ),
        ];
        for (env, why) in cases {
            assert_eq!(classify(env, &own()), Outcome::Ignore(why));
        }
        let broadcast = with_event(|e| e["subtype"] = "thread_broadcast".into());
        assert!(matches!(
            classify(broadcast, &own()),
            Outcome::AgentReply { .. }
        ));
    }
}

/// Fuzz targets of the Events API and interactivity parsers (`TANDEM_FUZZ_CASES`, see
/// `docs/SECURITY.md`).
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use tandem_testkit::fuzz;

    const KEYS: &[&str] = &[
        "type",
        "challenge",
        "event_id",
        "event",
        "subtype",
        "hidden",
        "bot_id",
        "user",
        "channel",
        "ts",
        "thread_ts",
        "text",
        "event_callback",
        "url_verification",
        "message",
        "actions",
        "action_id",
        "value",
        "container",
        "message_ts",
        "channel_id",
        "id",
        "block_actions",
        "tandem_accept",
        "tandem_resolve",
        "tandem_release",
    ];
    const EVENT: &[u8] =
        include_bytes!("../tests/fixtures/event_message_in_thread_from_agent.json");
    const FORM: &[u8] =
        include_bytes!("../tests/fixtures/interactivity_block_actions_body.form.txt");

    fn own() -> OwnBot {
        OwnBot {
            user_id: Some("U0BOTUSER1".into()),
            bot_id: Some("B0GATEWAY1".into()),
        }
    }

    fn run_event(bytes: &[u8]) {
        if let Ok(env) = serde_json::from_slice::<Envelope>(bytes) {
            let _ = classify(env, &own());
        }
    }

    fn run_form(bytes: &[u8]) {
        if let Some(p) = crate::interactions::payload_of(bytes) {
            let _ = crate::interactions::clicked(p);
        }
    }

    proptest! {
        #![proptest_config(fuzz::config())]

        #[test]
        fn fuzz_events_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
            run_event(&bytes);
            run_form(&bytes);
        }

        #[test]
        fn fuzz_events_parser_never_panics_on_shaped_json(v in fuzz::json_with_keys(KEYS)) {
            run_event(v.to_string().as_bytes());
            let form = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("payload", &v.to_string())
                .finish();
            run_form(form.as_bytes());
        }

        #[test]
        fn fuzz_events_parser_never_panics_on_mutated_fixtures(
            event in fuzz::mutated(EVENT),
            form in fuzz::mutated(FORM),
        ) {
            run_event(&event);
            run_form(&form);
        }
    }
}
