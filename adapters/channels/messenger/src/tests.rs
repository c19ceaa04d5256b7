//! Unit tests: normalization of every event kind, the signature regression values,
//! send bodies, error classification, and fuzz targets for the webhook parser
//! (proptest; `TANDEM_FUZZ_CASES` sets the number of cases).

use crate::inbound::{parse_for_tests, signature_ok};
use crate::outbound::{classify, message};
use axum::http::HeaderMap;
use proptest::prelude::*;
use std::time::Duration;
use tandem_sdk::ErrorKind;
use tandem_sdk::model::{
    Button, ChoiceStyle, Content, DeliveryStatus, DeliveryTarget, OutboundContent,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/inbound/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn signatures_match_the_published_regression_values() {
    for (file, sig) in [
        (
            "webhook_text.json",
            "31ab96ad3eda864f3a93e877b9e2c6806341c78c718635cd3aec5fb301a82c1b",
        ),
        (
            "webhook_message_echo.json",
            "4a67326d2229aebfec8ebcbcd6c6f5fe763ecebbfcaa14ea14e6c84b9c48877f",
        ),
        (
            "webhook_read.json",
            "54f76c17abba14fdf462b4b5972e9d0996ad97f3253b645711434dc6a8913914",
        ),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-hub-signature-256",
            format!("sha256={sig}").parse().unwrap(),
        );
        assert!(
            signature_ok("test_app_secret", &headers, &fixture(file)),
            "{file}"
        );
        assert!(!signature_ok("other", &headers, &fixture(file)), "{file}");
    }
}

#[test]
fn events_are_normalized() {
    let text = parse_for_tests(&fixture("webhook_text.json")).unwrap();
    assert_eq!(text.messages.len(), 1);
    assert_eq!(text.messages[0].sender.subject, "6876543210987654");
    assert_eq!(
        text.messages[0].content,
        Content::Text {
            text: "Hi, my parcel arrived damaged \u{1f615}".into()
        },
        "surrogate pairs decoded"
    );
    assert_eq!(
        text.messages[0].sent_at.unix_timestamp_nanos() / 1_000_000,
        1_767_261_600_123
    );

    let qr = parse_for_tests(&fixture("webhook_quick_reply.json")).unwrap();
    assert_eq!(
        qr.messages[0].content,
        Content::Postback {
            payload: "QR_REFUND".into(),
            title: Some("Refund".into())
        }
    );
    let pb = parse_for_tests(&fixture("webhook_postback.json")).unwrap();
    assert!(
        matches!(&pb.messages[0].content, Content::Postback { payload, .. } if payload == "HANDOFF_REQUEST")
    );
    let start =
        parse_for_tests(&fixture("webhook_postback_get_started_with_referral.json")).unwrap();
    assert_eq!(
        start.messages[0].content,
        Content::Start {
            payload: Some("campaign-spring26_order-A1042".into()),
            source: Some("SHORTLINK".into())
        }
    );
    let referral = parse_for_tests(&fixture("webhook_referral_mme_link.json")).unwrap();
    assert!(
        matches!(&referral.messages[0].content, Content::Start { payload: Some(p), .. } if p == "order-A1042")
    );
    let handover = parse_for_tests(&fixture("webhook_pass_thread_control.json")).unwrap();
    assert_eq!(
        handover.messages[0].content,
        Content::Event {
            kind: "messenger:pass_thread_control".into()
        }
    );
}

#[test]
fn echoes_are_ignored_and_receipts_reported() {
    let echo = parse_for_tests(&fixture("webhook_message_echo.json")).unwrap();
    assert!(echo.messages.is_empty() && echo.statuses.is_empty());
    assert_eq!(echo.echoes, 1);
    let delivery = parse_for_tests(&fixture("webhook_delivery.json")).unwrap();
    assert_eq!(delivery.statuses.len(), 2, "the mid and the watermark");
    assert!(matches!(
        &delivery.statuses[0].target,
        DeliveryTarget::Message { .. }
    ));
    assert!(
        matches!(&delivery.statuses[1].target, DeliveryTarget::UpTo { recipient, .. } if recipient == "6876543210987654")
    );
    let read = parse_for_tests(&fixture("webhook_read.json")).unwrap();
    assert_eq!(read.statuses[0].status, DeliveryStatus::Read);
}

#[test]
fn standby_events_are_recorded_not_answered() {
    let body = br#"{"object":"page","entry":[{"id":"1","time":1,"standby":[{"sender":{"id":"42"},"recipient":{"id":"1"},"timestamp":5,"message":{"mid":"m_s","text":"hi"}}]}]}"#;
    let parsed = parse_for_tests(body).unwrap();
    assert_eq!(
        parsed.messages[0].content,
        Content::Event {
            kind: "messenger:standby:text".into()
        }
    );
}

#[test]
fn unknown_events_and_attachments_are_unsupported() {
    let body = tandem_testkit::payloads::messenger_event(
        "1",
        "42",
        5,
        serde_json::json!({"hologram": {"ref": "x"}}),
    );
    let parsed = parse_for_tests(body.as_bytes()).unwrap();
    assert_eq!(
        parsed.messages[0].content,
        Content::Unsupported {
            kind: "messenger:hologram".into()
        }
    );
    let body = tandem_testkit::payloads::messenger_event(
        "1",
        "42",
        5,
        serde_json::json!({"message": {"mid": "m_a", "attachments": [
            {"type": "image", "payload": {"url": "https://cdn.example/a.jpg"}},
            {"type": "fallback", "payload": {}}
        ]}}),
    );
    let parsed = parse_for_tests(body.as_bytes()).unwrap();
    assert_eq!(parsed.messages.len(), 2, "one record per attachment");
    assert!(
        matches!(&parsed.messages[0].content, Content::Media { reference, .. } if reference == "https://cdn.example/a.jpg")
    );
    assert_eq!(parsed.messages[1].platform_message_id.as_str(), "m_a#1");
    assert_eq!(
        parsed.messages[1].content,
        Content::Unsupported {
            kind: "messenger:attachment:fallback".into()
        }
    );
}

fn caps() -> tandem_sdk::model::Capabilities {
    let config: crate::MessengerConfig = toml::from_str(
        r#"app_secret = "s"
        verify_token = "v"
        page_access_token = "t""#,
    )
    .unwrap();
    crate::capabilities(&config)
}

fn buttons(n: usize) -> Vec<Button> {
    (0..n)
        .map(|i| Button {
            title: format!("Option {i}"),
            payload: format!("P{i}"),
        })
        .collect()
}

#[test]
fn send_bodies() {
    let caps = caps();
    let json = |c: &OutboundContent| {
        serde_json::to_value(message(c, &caps, "tandem:out_1").unwrap()).unwrap()
    };
    assert_eq!(json(&OutboundContent::text("hello"))["text"], "hello");
    let b = json(&OutboundContent::with_buttons("Pick", buttons(3)));
    assert_eq!(b["attachment"]["payload"]["template_type"], "button");
    assert_eq!(b["attachment"]["payload"]["buttons"][0]["type"], "postback");
    let mut qr = OutboundContent::with_buttons("Pick", buttons(13));
    qr.style = ChoiceStyle::QuickReplies;
    assert_eq!(json(&qr)["quick_replies"].as_array().unwrap().len(), 13);
    let mut list = OutboundContent::with_buttons("Pick", buttons(5));
    list.style = ChoiceStyle::List;
    assert_eq!(
        message(&list, &caps, "m").unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        message(&OutboundContent::text("x".repeat(2001)), &caps, "m")
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
}

#[test]
fn error_codes_are_classified() {
    let two = Some(Duration::from_secs(2));
    assert_eq!(
        classify(400, Some(10), Some(2_018_278), None).kind(),
        ErrorKind::WindowClosed
    );
    assert_eq!(
        classify(400, Some(551), Some(1_545_041), None).kind(),
        ErrorKind::Unreachable
    );
    assert_eq!(
        classify(400, Some(613), None, two).kind(),
        ErrorKind::RateLimited { retry_after: two }
    );
    assert_eq!(
        classify(400, Some(4), None, None).kind(),
        ErrorKind::RateLimited { retry_after: None }
    );
    assert_eq!(classify(401, Some(190), None, None).kind(), ErrorKind::Auth);
    assert_eq!(
        classify(400, Some(100), Some(2_018_001), None).kind(),
        ErrorKind::Unreachable
    );
    assert_eq!(
        classify(400, Some(100), None, None).kind(),
        ErrorKind::Rejected
    );
    assert_eq!(classify(502, None, None, None).kind(), ErrorKind::Transient);
}

fn fuzz_cases() -> u32 {
    std::env::var("TANDEM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-zA-Z_]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("mid".to_owned()),
                    Just("text".to_owned()),
                    Just("is_echo".to_owned()),
                    Just("quick_reply".to_owned()),
                    Just("payload".to_owned()),
                    Just("attachments".to_owned()),
                    Just("type".to_owned()),
                    Just("url".to_owned()),
                    Just("watermark".to_owned()),
                    Just("mids".to_owned()),
                    Just("referral".to_owned()),
                    Just("ref".to_owned()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..5,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_for_tests(&bytes);
    }

    #[test]
    fn fuzz_parser_never_panics_on_shaped_json(
        key in prop_oneof![Just("message"), Just("postback"), Just("referral"), Just("delivery"), Just("read"), Just("reaction"), Just("optin")],
        event in json_value(),
        timestamp in any::<i64>(),
        standby in any::<bool>(),
    ) {
        let mut e = serde_json::json!({"sender": {"id": "42"}, "recipient": {"id": "1"}, "timestamp": timestamp});
        e[key] = event;
        let list = if standby { "standby" } else { "messaging" };
        let body = serde_json::json!({"object": "page", "entry": [{"id": "1", list: [e]}]});
        let _ = parse_for_tests(body.to_string().as_bytes());
    }
}

#[test]
fn config_checks_report_every_problem() {
    let config: crate::MessengerConfig = toml::from_str(
        r#"app_secret = ""
        verify_token = "v"
        page_access_token = ""
        api_base = "ftp://x"
        api_version = "21""#,
    )
    .unwrap();
    let errors = config.validate().unwrap_err().to_string();
    for key in [
        "app_secret: missing",
        "page_access_token: missing",
        "api_base:",
        "api_version:",
    ] {
        assert!(errors.contains(key), "{key} in {errors}");
    }
}

#[tokio::test]
async fn agent_messages_in_the_extended_window_go_out_tagged_human_agent() {
    use tandem_sdk::ChannelAdapter;
    let fake = tandem_testkit::fake::MessengerFake::start("t", "v21.0").await;
    let config: crate::MessengerConfig = toml::from_str(&format!(
        "app_secret = \"s\"\nverify_token = \"v\"\npage_access_token = \"t\"\napi_base = \"{}\"",
        fake.base_url()
    ))
    .unwrap();
    let caps = crate::capabilities(&config);
    let adapter = crate::outbound::MessengerAdapter::new(
        std::sync::Arc::new(config),
        reqwest::Client::new(),
        caps,
    );
    let mut content = OutboundContent::text("Your replacement ships tomorrow.");
    content.tag = Some("human_agent".into());
    let msg = tandem_sdk::model::OutboundMessage {
        outbox_id: tandem_sdk::model::OutboxId::generate(),
        channel: tandem_sdk::model::ChannelId::new("messenger"),
        recipient: "6876543210987654".into(),
        conversation_id: tandem_sdk::model::ConversationId::generate(),
        from: tandem_sdk::model::Party::Agent,
        content,
        message_id: tandem_sdk::model::MessageId::generate(),
        created_at: tandem_sdk::model::now(),
    };
    adapter.send(msg).await.unwrap();
    let body = fake.sends()[0].json();
    assert_eq!(body["messaging_type"], "MESSAGE_TAG");
    assert_eq!(body["tag"], "HUMAN_AGENT");
    assert_eq!(body["recipient"]["id"], "6876543210987654");
}

#[tokio::test]
async fn verification_handshake_echoes_the_challenge() {
    use tower::ServiceExt;
    let config: crate::MessengerConfig = toml::from_str(
        "app_secret = \"s\"\nverify_token = \"fb-verify\"\npage_access_token = \"t\"",
    )
    .unwrap();
    let sink = tandem_testkit::RecordingInbound::new()
        .sink(tandem_sdk::model::ChannelId::new("messenger"));
    let routes = crate::inbound::routes(std::sync::Arc::new(config), sink);
    let get = |token: &str| {
        axum::http::Request::get(format!(
            "/webhooks/messenger?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=42"
        ))
        .body(axum::body::Body::empty())
        .unwrap()
    };
    let ok = routes.clone().oneshot(get("fb-verify")).await.unwrap();
    assert_eq!(ok.status(), 200);
    let body = axum::body::to_bytes(ok.into_body(), 1024).await.unwrap();
    assert_eq!(&body[..], b"42");
    assert_eq!(routes.oneshot(get("wrong")).await.unwrap().status(), 403);
}

fn event(event: serde_json::Value) -> Vec<Content> {
    let body = tandem_testkit::payloads::messenger_event("1", "42", 5, event);
    parse_for_tests(body.as_bytes())
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.content)
        .collect()
}

#[test]
fn a_link_share_with_a_null_fallback_payload_is_read_and_loses_nothing() {
    // Issue 18 item 2: `"payload": null` made the whole batch fail (400, redelivered).
    let body = br#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[
        {"sender":{"id":"42"},"recipient":{"id":"1"},"timestamp":5,"message":{"mid":"m_link","text":"look https://example.org/a","attachments":[{"type":"fallback","payload":null,"title":"A page","URL":"https://example.org/a"}]}},
        {"sender":{"id":"42"},"recipient":{"id":"1"},"timestamp":6,"message":{"mid":"m_text","text":"and this"}}
    ]}]}"#;
    let parsed = parse_for_tests(body).unwrap();
    let contents: Vec<_> = parsed.messages.iter().map(|m| m.content.clone()).collect();
    assert_eq!(
        contents,
        vec![
            Content::Text {
                text: "look https://example.org/a".into()
            },
            Content::Text {
                text: "and this".into()
            }
        ]
    );
    assert_eq!(
        event(
            serde_json::json!({"message": {"mid": "m_l", "attachments": [
                {"type": "fallback", "payload": null, "title": "A page", "URL": "https://example.org/a"}
            ]}})
        ),
        vec![Content::Text {
            text: "A page https://example.org/a".into()
        }]
    );
}

#[test]
fn an_unreadable_event_is_kept_and_the_rest_of_the_batch_recorded() {
    let body = br#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[
        {"sender":{"id":"42"},"recipient":{"id":"1"},"timestamp":"not a number","message":{"mid":"m_bad","text":"?"}},
        {"sender":{"id":"42"},"recipient":{"id":"1"},"timestamp":6,"message":{"mid":"m_ok","text":"hello"}},
        {"recipient":{"id":"1"},"timestamp":[]}
    ]}, 17]}"#;
    let parsed = parse_for_tests(body).unwrap();
    assert_eq!(parsed.messages.len(), 2);
    assert_eq!(
        parsed.messages[0].content,
        Content::Unsupported {
            kind: "messenger:unparsable".into()
        }
    );
    assert!(
        parsed.messages[0]
            .platform_message_id
            .as_str()
            .starts_with("derived:")
    );
    assert_eq!(parsed.messages[1].platform_message_id.as_str(), "m_ok");
    assert_eq!(parsed.unreadable, 1, "the event naming nobody is counted");
    // Another object is acknowledged with nothing to record.
    let other = parse_for_tests(br#"{"object":"instagram","entry":[]}"#).unwrap();
    assert!(other.other_object && other.messages.is_empty());
}

#[test]
fn an_echo_from_another_app_is_a_person_answering_and_ours_are_ignored() {
    let echo = |app_id: serde_json::Value, metadata: Option<&str>| {
        let mut message = serde_json::json!({"is_echo": true, "app_id": app_id, "mid": "m_echo", "text": "I'll check, one moment"});
        if let Some(m) = metadata {
            message["metadata"] = serde_json::json!(m);
        }
        let body = serde_json::json!({"object": "page", "entry": [{"id": "1", "time": 1, "messaging": [
            {"sender": {"id": "1"}, "recipient": {"id": "42"}, "timestamp": 5, "message": message}
        ]}]});
        parse_for_tests(body.to_string().as_bytes()).unwrap()
    };
    // The Page Inbox's app id: someone answered there.
    let inbox = echo(serde_json::json!(263_902_037_430_900_u64), None);
    assert_eq!(inbox.messages.len(), 1);
    assert_eq!(inbox.messages[0].sender.subject, "42", "the customer");
    assert_eq!(
        inbox.messages[0].content,
        Content::ExternalReply {
            text: Some("I'll check, one moment".into())
        }
    );
    // Tandem's own sends: by app id, or by Tandem's metadata.
    let own = echo(serde_json::json!("1234567890123456"), None);
    assert!(own.messages.is_empty() && own.echoes == 1);
    let own = echo(serde_json::json!(99), Some("tandem:out_1"));
    assert!(own.messages.is_empty() && own.echoes == 1);
}

#[test]
fn edits_deletions_optins_and_payments_are_understood_not_unsupported() {
    assert_eq!(
        event(
            serde_json::json!({"message_edit": {"mid": "m_1", "text": "fixed typo", "num_edit": 1}})
        ),
        vec![Content::Edited {
            of: Some("m_1".into()),
            text: Some("fixed typo".into())
        }]
    );
    assert_eq!(
        event(serde_json::json!({"message": {"mid": "m_2", "is_deleted": true}})),
        vec![Content::Deleted {
            of: Some("m_2".into())
        }]
    );
    assert_eq!(
        event(
            serde_json::json!({"optin": {"type": "notification_messages", "payload": "p", "notification_messages_token": "t"}})
        ),
        vec![Content::Event {
            kind: "messenger:optin".into()
        }]
    );
    let payment = event(
        serde_json::json!({"payment": {"payload": "SKU_1", "amount": {"currency": "EUR", "amount": "29.90"}, "payment_credential": {"provider_type": "stripe", "charge_id": "ch_1"}}}),
    );
    match &payment[0] {
        Content::Structured {
            kind,
            summary,
            fields,
        } => {
            assert_eq!(kind, "messenger:payment");
            assert_eq!(summary, "payment of 29.90 EUR");
            assert!(
                !fields.values().any(|v| v.contains("ch_1")),
                "no credentials kept"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_policy_enforcement_notice_is_reported_not_recorded() {
    let body = br#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[
        {"recipient":{"id":"1"},"timestamp":5,"policy-enforcement":{"action":"block","reason":"The Page was blocked for spam."}}
    ]}]}"#;
    let parsed = parse_for_tests(body).unwrap();
    assert!(parsed.messages.is_empty());
    assert_eq!(parsed.policy_actions, vec!["block".to_owned()]);
}

fn unknown_field() -> impl Strategy<Value = (u32, u16, serde_json::Value)> {
    (any::<u32>(), any::<u16>(), json_value())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Unknown fields anywhere in a recorded payload never change what is read from the
    /// known ones.
    #[test]
    fn unknown_fields_never_change_the_parse_of_known_ones(
        additions in prop::collection::vec(unknown_field(), 1..6),
    ) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inbound");
        let read = |_: &serde_json::Value, v: &serde_json::Value| {
            format!("{:?}", parse_for_tests(v.to_string().as_bytes()))
        };
        let kept = tandem_testkit::fixtures::unknown_fields_keep_the_parse(dir, &additions, read);
        prop_assert!(kept.is_ok(), "{}", kept.unwrap_err());
    }
}
