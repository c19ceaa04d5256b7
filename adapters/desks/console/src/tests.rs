use crate::config::ConsoleDeskConfig;
use crate::protocol::ClientFrame;
use crate::state::{Action, Change, Status, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tandem_sdk::handoff::{
    Agent, Customer, HandoffClosed, HandoffMessage, HandoffRequested, HandoffUpdated, Reason,
    Summary, TranscriptLine, Window,
};
use tandem_sdk::{
    Accepted, DeskAnswer, DeskDelivery, DeskEvent, DeskEventHandler, DeskEventSink, DeskOp,
    InboundError, Secret, async_trait,
};

#[derive(Default)]
struct FakeCore {
    kv: Mutex<HashMap<String, String>>,
    events: Mutex<Vec<(String, DeskEvent)>>,
}

#[async_trait]
impl DeskEventHandler for FakeCore {
    async fn desk_event(
        &self,
        _desk: &str,
        dedupe_key: &str,
        event: DeskEvent,
    ) -> Result<DeskAnswer, InboundError> {
        let mut events = self.events.lock().unwrap();
        let duplicate = events.iter().any(|(k, _)| k == dedupe_key);
        if !duplicate {
            events.push((dedupe_key.to_owned(), event));
        }
        Ok(DeskAnswer::Recorded(Accepted { duplicate }))
    }
    async fn kv_get(&self, _desk: &str, key: &str) -> Result<Option<String>, InboundError> {
        let value = self.kv.lock().unwrap().get(key).cloned();
        // Lets another replica's change run between this read and the write after it.
        tokio::task::yield_now().await;
        Ok(value)
    }
    async fn kv_put(&self, _desk: &str, key: &str, value: &str) -> Result<(), InboundError> {
        self.kv
            .lock()
            .unwrap()
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }
    async fn kv_swap(
        &self,
        _desk: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, InboundError> {
        let mut kv = self.kv.lock().unwrap();
        if kv.get(key).map(String::as_str) != expected {
            return Ok(false);
        }
        kv.insert(key.to_owned(), value.to_owned());
        Ok(true)
    }
}

fn store() -> (Arc<FakeCore>, Store) {
    let core = Arc::new(FakeCore::default());
    (
        core.clone(),
        Store::new(DeskEventSink::new("console", core)),
    )
}

fn line(from: &str, text: &str) -> TranscriptLine {
    TranscriptLine {
        from: from.into(),
        channel: "webhook".into(),
        at: "2026-01-01T10:00:00Z".into(),
        text: text.into(),
        media: None,
    }
}

fn requested(id: &str, priority: &str, created_at: &str) -> HandoffRequested {
    HandoffRequested {
        version: "1".into(),
        kind: "handoff.requested".into(),
        handoff_id: id.into(),
        conversation_id: format!("conv-{id}"),
        created_at: created_at.into(),
        channel: "webhook".into(),
        customer: Customer {
            id: "cust-1".into(),
            display_name: Some("Alice".into()),
            segment: None,
            attributes: Default::default(),
            identities: vec![],
        },
        reason: Reason {
            category: Some("revenue".into()),
            priority: priority.into(),
            target: "billing".into(),
            triggers: vec![],
        },
        summary: Summary {
            intent: Some("refund".into()),
            attempted: vec![],
            status: "asked for a refund".into(),
            sentiment: "neutral".into(),
            text: "wants a refund".into(),
        },
        window: Window {
            open: true,
            expires_at: None,
        },
        transcript: vec![line("customer", "I want a refund")],
    }
}

fn open(delivery: &str, id: &str) -> DeskDelivery {
    DeskDelivery {
        id: delivery.into(),
        op: DeskOp::Open(Box::new(requested(id, "high", "2026-01-01T10:00:00Z"))),
    }
}

fn append(delivery: &str, id: &str, text: &str) -> DeskDelivery {
    DeskDelivery {
        id: delivery.into(),
        op: DeskOp::Append(HandoffMessage {
            version: "1".into(),
            kind: "handoff.message".into(),
            handoff_id: id.into(),
            conversation_id: format!("conv-{id}"),
            message: line("customer", text),
        }),
    }
}

fn close(delivery: &str, id: &str) -> DeskDelivery {
    DeskDelivery {
        id: delivery.into(),
        op: DeskOp::Close(HandoffClosed {
            version: "1".into(),
            kind: "handoff.closed".into(),
            handoff_id: id.into(),
            conversation_id: format!("conv-{id}"),
            reason: "resolved".into(),
        }),
    }
}

const NOW: &str = "2026-01-01T10:01:00Z";

fn sam() -> Agent {
    Agent {
        id: "sam".into(),
        name: Some("Sam".into()),
    }
}

#[test]
fn config_needs_long_enough_tokens() {
    // Tokens are optional: agents sign in with their accounts.
    assert!(ConsoleDeskConfig::default().validate().is_ok());
    let short = ConsoleDeskConfig {
        tokens: vec![Secret::new("0123456789abcdef"), Secret::new("short")],
        session_hours: Some(0),
        ..ConsoleDeskConfig::default()
    };
    let errors = short.validate().unwrap_err();
    assert_eq!(errors.0.len(), 2);
    assert_eq!(errors.0[0].path, "tokens[1]");
    assert_eq!(errors.0[1].path, "session_hours");
    let ok = ConsoleDeskConfig {
        tokens: vec![Secret::new("0123456789abcdef")],
        ..ConsoleDeskConfig::default()
    };
    assert!(ok.validate().is_ok());
    assert!(ok.accepts("0123456789abcdef"));
    assert!(!ok.accepts("0123456789abcdeF"));
    assert!(!ok.accepts(""));
}

#[test]
fn config_refuses_unknown_keys() {
    let parsed: Result<ConsoleDeskConfig, _> =
        toml::from_str("tokens = [\"0123456789abcdef\"]\ncolour = \"blue\"");
    assert!(parsed.is_err());
}

#[test]
fn frames_parse_and_bad_ones_are_named() {
    assert_eq!(
        ClientFrame::parse(r#"{"type":"accept","handoff_id":"h1","id":"a1"}"#),
        Ok(ClientFrame::Accept {
            handoff_id: "h1".into(),
            id: "a1".into()
        })
    );
    let hello =
        ClientFrame::parse(r#"{"type":"hello","agent":{"id":"sam","name":"Sam"}}"#).unwrap();
    assert!(matches!(hello, ClientFrame::Hello { token: None, .. }));
    let code = |t: &str| ClientFrame::parse(t).unwrap_err().code;
    assert_eq!(code("not json"), "bad_frame");
    assert_eq!(code(r#"{"type":"dance"}"#), "bad_frame");
    assert_eq!(code(r#"{"type":"accept","handoff_id":"h1"}"#), "bad_frame");
    assert_eq!(
        code(r#"{"type":"accept","handoff_id":"","id":"a"}"#),
        "bad_frame"
    );
    assert_eq!(code(r#"{"type":"hello","agent":{"id":" "}}"#), "bad_frame");
    assert_eq!(
        code(r#"{"type":"message","handoff_id":"h1","id":"a","text":"  "}"#),
        "empty_text"
    );
    let long = format!(
        r#"{{"type":"resolve","handoff_id":"{}","id":"a"}}"#,
        "x".repeat(300)
    );
    assert_eq!(code(&long), "bad_frame");
    assert_eq!(code("[1,2,3]"), "bad_frame");
    assert_eq!(code("\u{0}"), "bad_frame");
}

#[tokio::test]
async fn open_append_close_keep_the_record_and_the_index() {
    let (_core, store) = store();
    let change = store.apply(&open("d1", "h1"), NOW).await.unwrap();
    assert!(matches!(change, Change::Updated(_)));
    store
        .apply(&append("d2", "h1", "still there?"), NOW)
        .await
        .unwrap();
    let open_now = store.open_handoffs().await.unwrap();
    assert_eq!(open_now.len(), 1);
    assert_eq!(open_now[0].messages[0].line.text, "still there?");
    assert_eq!(open_now[0].status, Status::Queued);
    let view = open_now[0].view();
    assert_eq!(view["transcript"].as_array().unwrap().len(), 2);
    assert_eq!(view["summary"]["intent"], "refund");

    let update = DeskDelivery {
        id: "d3".into(),
        op: DeskOp::Update(HandoffUpdated {
            version: "1".into(),
            kind: "handoff.updated".into(),
            handoff_id: "h1".into(),
            conversation_id: "conv-h1".into(),
            change: "assigned".into(),
            target: Some("billing".into()),
            priority: Some("immediate".into()),
            assignee: Some(sam()),
            at: NOW.into(),
        }),
    };
    store.apply(&update, NOW).await.unwrap();
    let r = store.get("h1").await.unwrap().unwrap();
    assert_eq!(r.assignee, Some(sam()));
    assert_eq!(r.priority, "immediate");

    let change = store.apply(&close("d4", "h1"), NOW).await.unwrap();
    assert_eq!(change, Change::Closed("h1".into()));
    assert!(store.open_handoffs().await.unwrap().is_empty());
    assert_eq!(
        store.get("h1").await.unwrap().unwrap().status,
        Status::Closed
    );
}

#[tokio::test]
async fn retried_deliveries_have_no_second_effect() {
    let (_core, store) = store();
    store.apply(&open("d1", "h1"), NOW).await.unwrap();
    assert_eq!(
        store.apply(&open("d1", "h1"), NOW).await.unwrap(),
        Change::Unchanged
    );
    store
        .apply(&append("d2", "h1", "hello?"), NOW)
        .await
        .unwrap();
    assert_eq!(
        store
            .apply(&append("d2", "h1", "hello?"), NOW)
            .await
            .unwrap(),
        Change::Unchanged
    );
    let r = store.get("h1").await.unwrap().unwrap();
    assert_eq!(r.messages.len(), 1, "one message despite the retry");
    store.apply(&close("d3", "h1"), NOW).await.unwrap();
    assert_eq!(
        store.apply(&close("d3", "h1"), NOW).await.unwrap(),
        Change::Unchanged
    );
    // An open retried after the close does not bring the handoff back.
    assert_eq!(
        store.apply(&open("d1", "h1"), NOW).await.unwrap(),
        Change::Unchanged
    );
    assert!(store.open_handoffs().await.unwrap().is_empty());
}

#[tokio::test]
async fn deliveries_for_unknown_handoffs_are_refused() {
    let (_core, store) = store();
    assert!(matches!(
        store.apply(&append("d1", "nope", "hi"), NOW).await,
        Err(crate::state::ApplyError::UnknownHandoff)
    ));
}

#[tokio::test]
async fn snapshot_is_most_urgent_first_then_oldest() {
    let (_core, store) = store();
    let mk = |d: &str, id: &str, p: &str, at: &str| DeskDelivery {
        id: d.into(),
        op: DeskOp::Open(Box::new(requested(id, p, at))),
    };
    store
        .apply(&mk("d1", "low-old", "low", "2026-01-01T09:00:00Z"), NOW)
        .await
        .unwrap();
    store
        .apply(&mk("d2", "high-new", "high", "2026-01-01T10:00:00Z"), NOW)
        .await
        .unwrap();
    store
        .apply(&mk("d3", "high-old", "high", "2026-01-01T08:00:00Z"), NOW)
        .await
        .unwrap();
    let ids: Vec<String> = store
        .open_handoffs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.briefing.handoff_id)
        .collect();
    assert_eq!(ids, ["high-old", "high-new", "low-old"]);
}

/// Two replicas (two console stores on one core's key-value space) change one handoff at
/// the same time: a customer's messages delivered by one, an agent's replies recorded by
/// the other. Every change is kept (the compare-and-set redoes the loser's change).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_changing_one_handoff_lose_nothing() {
    let (core, a) = store();
    let b = Store::new(DeskEventSink::new("console", core.clone()));
    a.apply(&open("d0", "h1"), NOW).await.unwrap();
    let a = Arc::new(a);
    let b = Arc::new(b);
    let customer = {
        let a = a.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                a.apply(&append(&format!("d{}", i + 1), "h1", &format!("c{i}")), NOW)
                    .await
                    .unwrap();
            }
        })
    };
    let agent = {
        let b = b.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                b.record_action(
                    "h1",
                    &format!("k{i}"),
                    &sam(),
                    Action::Message(format!("a{i}")),
                    NOW,
                )
                .await
                .unwrap();
            }
        })
    };
    customer.await.unwrap();
    agent.await.unwrap();
    let record = a.get("h1").await.unwrap().unwrap();
    let texts: Vec<&str> = record
        .messages
        .iter()
        .map(|l| l.line.text.as_str())
        .collect();
    for i in 0..20 {
        assert!(
            texts.contains(&format!("c{i}").as_str()),
            "c{i} lost: {texts:?}"
        );
        assert!(
            texts.contains(&format!("a{i}").as_str()),
            "a{i} lost: {texts:?}"
        );
    }
    assert_eq!(texts.len(), 40, "40 changes, once each");
    assert_eq!(record.accepted_by, Some(sam()));
    // Closing on one replica takes it out of the open list both read.
    b.apply(&close("d99", "h1"), NOW).await.unwrap();
    assert!(a.open_handoffs().await.unwrap().is_empty());
}

#[tokio::test]
async fn agent_actions_are_recorded_once() {
    let (_core, store) = store();
    store.apply(&open("d1", "h1"), NOW).await.unwrap();
    assert!(store.actionable("h1", "k1").await.unwrap());
    let Change::Updated(r) = store
        .record_action(
            "h1",
            "k1",
            &sam(),
            Action::Message("Hi, Sam here".into()),
            NOW,
        )
        .await
        .unwrap()
    else {
        panic!("recorded")
    };
    assert_eq!(
        r.status,
        Status::Accepted,
        "the first reply takes the handoff"
    );
    assert_eq!(r.accepted_by, Some(sam()));
    assert_eq!(r.messages[0].line.from, "agent");
    assert_eq!(r.messages[0].key.as_deref(), Some("k1"));
    assert_eq!(
        r.view()["transcript"][1]["delivery"]["state"],
        "sending",
        "a reply is shown as being sent until the core reports on it"
    );
    // The same action again: nothing new, and it is recognised as done.
    assert!(!store.actionable("h1", "k1").await.unwrap());
    assert_eq!(
        store
            .record_action(
                "h1",
                "k1",
                &sam(),
                Action::Message("Hi, Sam here".into()),
                NOW
            )
            .await
            .unwrap(),
        Change::Unchanged
    );
    assert_eq!(store.get("h1").await.unwrap().unwrap().messages.len(), 1);

    assert!(matches!(
        store.actionable("nope", "k2").await,
        Err(crate::state::ActionError::Refused(
            crate::state::Refusal::Unknown
        ))
    ));
    // Resolving in the console closes the console's copy (the core sends no `Close`).
    assert_eq!(
        store
            .record_action("h1", "k2", &sam(), Action::Finish("resolved"), NOW)
            .await
            .unwrap(),
        Change::Closed("h1".into())
    );
    assert!(store.open_handoffs().await.unwrap().is_empty());
    assert_eq!(
        store
            .get("h1")
            .await
            .unwrap()
            .unwrap()
            .closed_reason
            .as_deref(),
        Some("resolved")
    );
    // A late retried delivery for it changes nothing.
    assert_eq!(
        store.apply(&append("d9", "h1", "late"), NOW).await.unwrap(),
        Change::Unchanged
    );
    assert!(matches!(
        store.actionable("h1", "k3").await,
        Err(crate::state::ActionError::Refused(
            crate::state::Refusal::NotOpen
        ))
    ));
    // A resent frame of an action recorded before the close is still recognised.
    assert!(!store.actionable("h1", "k1").await.unwrap());
}

fn report(key: &str, state: &str, detail: Option<&str>) -> tandem_sdk::ReplyDelivery {
    tandem_sdk::ReplyDelivery {
        handoff_id: "h1".into(),
        event_key: key.into(),
        state: state.into(),
        detail: detail.map(Into::into),
        at: NOW.into(),
    }
}

#[tokio::test]
async fn replies_show_how_their_delivery_fared() {
    let (_core, store) = store();
    store.apply(&open("d1", "h1"), NOW).await.unwrap();
    // A report may come before the console recorded the reply: it is kept.
    store
        .reply_delivery(&report("k1", "undeliverable", Some("window closed")))
        .await
        .unwrap();
    store
        .record_action("h1", "k1", &sam(), Action::Message("Hello".into()), NOW)
        .await
        .unwrap();
    let view = store.get("h1").await.unwrap().unwrap().view();
    let line = &view["transcript"][1];
    assert_eq!(line["text"], "Hello");
    assert_eq!(line["delivery"]["state"], "undeliverable");
    assert_eq!(line["delivery"]["detail"], "window closed");
    // Customer lines carry no delivery state.
    assert!(view["transcript"][0].get("delivery").is_none());
    // The same report again changes nothing; a new state is pushed.
    assert_eq!(
        store
            .reply_delivery(&report("k1", "undeliverable", Some("window closed")))
            .await
            .unwrap(),
        Change::Unchanged
    );
    let Change::Updated(r) = store
        .reply_delivery(&report("k1", "read", None))
        .await
        .unwrap()
    else {
        panic!("a new state is a change")
    };
    assert_eq!(r.view()["transcript"][1]["delivery"]["state"], "read");
    // Not one of this console's handoffs: nothing.
    let mut other = report("k9", "sent", None);
    other.handoff_id = "nope".into();
    assert_eq!(
        store.reply_delivery(&other).await.unwrap(),
        Change::Unchanged
    );
}

#[tokio::test]
async fn closed_handoffs_are_kept_and_searchable() {
    let (_core, store) = store();
    store.apply(&open("d1", "h1"), NOW).await.unwrap();
    store.apply(&open("d2", "h2"), NOW).await.unwrap();
    store
        .apply(&append("d3", "h2", "my parcel never came"), NOW)
        .await
        .unwrap();
    assert!(
        store.history("", 10).await.unwrap().is_empty(),
        "nothing closed yet"
    );
    store.apply(&close("d4", "h1"), NOW).await.unwrap();
    store
        .record_action("h2", "k1", &sam(), Action::Finish("resolved"), NOW)
        .await
        .unwrap();
    let ids = |list: Vec<crate::state::HandoffRecord>| {
        list.into_iter()
            .map(|r| r.briefing.handoff_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.history("", 10).await.unwrap()),
        ["h2", "h1"],
        "newest first"
    );
    assert_eq!(
        ids(store.history("PARCEL", 10).await.unwrap()),
        ["h2"],
        "by text"
    );
    assert_eq!(
        ids(store.history("alice", 10).await.unwrap()),
        ["h2", "h1"],
        "by name"
    );
    assert_eq!(
        ids(store.history("webhook", 1).await.unwrap()),
        ["h2"],
        "by channel, limited"
    );
    assert!(store.history("nobody", 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn records_written_before_delivery_states_still_read() {
    let (core, store) = store();
    store.apply(&open("d1", "h1"), NOW).await.unwrap();
    store
        .apply(&append("d2", "h1", "still there?"), NOW)
        .await
        .unwrap();
    // The record as an earlier version wrote it: plain lines, no `deliveries`.
    let mut v: serde_json::Value =
        serde_json::from_str(&core.kv.lock().unwrap()["handoff:h1"]).unwrap();
    v.as_object_mut().unwrap().remove("deliveries");
    core.kv
        .lock()
        .unwrap()
        .insert("handoff:h1".into(), v.to_string());
    let r = store.get("h1").await.unwrap().unwrap();
    assert_eq!(r.messages[0].line.text, "still there?");
    assert!(r.messages[0].key.is_none());
}
