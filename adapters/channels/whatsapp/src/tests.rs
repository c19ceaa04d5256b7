//! Unit tests: normalization, the GET handshake, signatures over raw bytes (the shared
//! fixtures' regression values), send bodies, error classification, and a fuzz target
//! for the webhook parser (proptest; `TANDEM_FUZZ_CASES` sets the number of cases).

use crate::config::{TemplateConfig, WhatsAppConfig, default_pacing};
use crate::inbound::{parse_for_tests, signature_ok};
use crate::outbound::{body, classify};
use axum::http::HeaderMap;
use proptest::prelude::*;
use std::time::Duration;
use tandem_sdk::model::{
    Button, ChoiceStyle, Content, MediaKind, OutboundContent, TemplateMessage,
};
use tandem_sdk::{ErrorKind, Secret};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/inbound/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn config() -> WhatsAppConfig {
    WhatsAppConfig {
        app_secret: Secret::new("test_app_secret"),
        verify_token: Secret::new("verify-me"),
        access_token: Secret::new("token"),
        phone_number_id: "109876543210987".into(),
        api_base: "http://127.0.0.1:9".into(),
        api_version: "v21.0".into(),
        window_template: None,
        list_button: "Choose".into(),
        pacing: default_pacing(),
    }
}

#[test]
fn signatures_match_the_published_regression_values() {
    for (file, sig) in [
        (
            "webhook_text.json",
            "3f477dace6427de569afb77ebd1a6f8c45028512fa122fa770f11c1cc61ceeac",
        ),
        (
            "webhook_image.json",
            "7ed1a3dc61dee9302da65898100d024b4a64ac17e5bbebbb0931249ee8207891",
        ),
        (
            "webhook_status_failed_131047.json",
            "4dffc1c00194fa33502802427298f4fb2df12634fef021591c234872534b0447",
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
        assert!(
            !signature_ok("other_secret", &headers, &fixture(file)),
            "{file} with another key"
        );
        let mut body = fixture(file);
        body.pop();
        assert!(
            !signature_ok("test_app_secret", &headers, &body),
            "{file} with one byte less"
        );
    }
    assert!(
        !signature_ok("test_app_secret", &HeaderMap::new(), b"{}"),
        "no header"
    );
}

#[test]
fn every_message_type_is_typed() {
    let text = parse_for_tests(&fixture("webhook_text.json")).unwrap();
    let m = &text.messages[0];
    assert_eq!(m.sender.subject, "4915112345678");
    assert_eq!(
        m.sender.display_name.as_deref(),
        Some("Lena Müller"),
        "\\u escapes decoded"
    );
    assert_eq!(m.sender.verified_phone.as_deref(), Some("+4915112345678"));
    assert!(
        matches!(&m.content, Content::Text { text } if text.contains("https://track.example/A-1042"))
    );
    assert_eq!(m.sent_at.unix_timestamp(), 1_767_261_600);

    let button = parse_for_tests(&fixture("webhook_interactive_button_reply.json")).unwrap();
    assert_eq!(
        button.messages[0].content,
        Content::Postback {
            payload: "talk_to_agent".into(),
            title: Some("Talk to a person".into())
        }
    );
    let list = parse_for_tests(&fixture("webhook_interactive_list_reply.json")).unwrap();
    assert!(
        matches!(&list.messages[0].content, Content::Postback { payload, .. } if payload == "topic_returns")
    );
    let template = parse_for_tests(&fixture("webhook_template_quick_reply_button.json")).unwrap();
    assert!(
        matches!(&template.messages[0].content, Content::Postback { payload, .. } if payload == "REOPEN_CASE")
    );
    let location = parse_for_tests(&fixture("webhook_location.json")).unwrap();
    assert!(
        matches!(location.messages[0].content, Content::Location { latitude, .. } if (latitude - 52.520008).abs() < 1e-9)
    );
    let image = parse_for_tests(&fixture("webhook_image.json")).unwrap();
    assert!(matches!(
        &image.messages[0].content,
        Content::Media { kind: MediaKind::Image, reference, .. } if reference == "1288344115501230"
    ));
}

#[test]
fn statuses_and_platform_errors() {
    let failed = parse_for_tests(&fixture("webhook_status_failed_131047.json")).unwrap();
    assert!(failed.messages.is_empty());
    assert_eq!(failed.statuses.len(), 1);
    assert!(matches!(
        &failed.statuses[0].status,
        tandem_sdk::model::DeliveryStatus::Failed { kind: tandem_sdk::model::FailureKind::WindowClosed, code: Some(c), .. } if c == "131047"
    ));
    let errors = parse_for_tests(&fixture("webhook_errors_130429.json")).unwrap();
    assert_eq!(errors.platform_errors, vec![130_429]);
}

#[test]
fn unknown_types_are_kept_as_unsupported() {
    let body = tandem_testkit::payloads::whatsapp_message(
        "109876543210987",
        "4915112345678",
        "Lena",
        serde_json::json!({"from": "4915112345678", "id": "wamid.X", "timestamp": "1", "type": "hologram", "hologram": {}}),
    );
    let parsed = parse_for_tests(body.as_bytes()).unwrap();
    assert_eq!(
        parsed.messages[0].content,
        Content::Unsupported {
            kind: "whatsapp:hologram".into()
        }
    );
}

#[test]
fn other_numbers_and_fields_are_acknowledged_not_recorded() {
    let body =
        tandem_testkit::payloads::whatsapp_text("999", "4915112345678", "Lena", "hi", "wamid.Y", 1);
    let parsed = parse_for_tests(body.as_bytes()).unwrap();
    assert!(parsed.messages.is_empty());
    assert_eq!(parsed.other_numbers, 1);
    // Another object is acknowledged with nothing to record; only non-JSON is an error.
    let other = parse_for_tests(br#"{"object":"page","entry":[]}"#).unwrap();
    assert!(other.messages.is_empty() && other.statuses.is_empty());
    assert!(parse_for_tests(b"not json").is_err());
}

fn buttons(n: usize, title_len: usize) -> Vec<Button> {
    (0..n)
        .map(|i| Button {
            title: format!("{i}{}", "x".repeat(title_len.saturating_sub(1))),
            payload: format!("p{i}"),
        })
        .collect()
}

#[test]
fn send_bodies() {
    let caps = crate::capabilities(&config());
    let json =
        |c: &OutboundContent| serde_json::to_value(body(c, &caps, "Choose").unwrap()).unwrap();
    let text = json(&OutboundContent::text("hello"));
    assert_eq!(text["type"], "text");
    assert_eq!(text["text"]["body"], "hello");
    let three = json(&OutboundContent::with_buttons("Pick", buttons(3, 20)));
    assert_eq!(three["interactive"]["type"], "button");
    assert_eq!(
        three["interactive"]["action"]["buttons"][2]["reply"]["id"],
        "p2"
    );
    let mut list = OutboundContent::with_buttons("Pick", buttons(8, 24));
    list.style = ChoiceStyle::List;
    let list = json(&list);
    assert_eq!(list["interactive"]["type"], "list");
    assert_eq!(
        list["interactive"]["action"]["sections"][0]["rows"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    let template = OutboundContent {
        text: "kept".into(),
        template: Some(TemplateMessage {
            name: "case_follow_up".into(),
            language: "de".into(),
            params: vec!["Lena".into()],
        }),
        ..OutboundContent::default()
    };
    let media = |kind: MediaKind, text: &str| OutboundContent {
        text: text.into(),
        media: Some(tandem_sdk::model::OutboundMedia {
            kind,
            url: "https://tandem.example/media/abc".into(),
            mime_type: Some("application/pdf".into()),
            filename: Some("label.pdf".into()),
        }),
        ..OutboundContent::default()
    };
    let image = json(&media(MediaKind::Image, "Your label"));
    assert_eq!(image["type"], "image");
    assert_eq!(image["image"]["link"], "https://tandem.example/media/abc");
    assert_eq!(image["image"]["caption"], "Your label");
    assert!(image["image"].get("filename").is_none());
    let document = json(&media(MediaKind::Document, ""));
    assert_eq!(document["type"], "document");
    assert_eq!(document["document"]["filename"], "label.pdf");
    assert!(
        document["document"].get("caption").is_none(),
        "no empty caption"
    );
    let template = json(&template);
    assert_eq!(template["type"], "template");
    assert_eq!(template["template"]["language"]["code"], "de");
    assert_eq!(
        template["template"]["components"][0]["parameters"][0]["text"],
        "Lena"
    );

    for refused in [
        OutboundContent::with_buttons("Pick", buttons(4, 5)),
        OutboundContent::with_buttons("Pick", buttons(2, 21)),
        OutboundContent::with_buttons("", buttons(2, 5)),
        OutboundContent::text("x".repeat(4097)),
        OutboundContent::text(" "),
    ] {
        let err = body(&refused, &caps, "Choose").expect_err("beyond the limits");
        assert_eq!(err.kind(), ErrorKind::Unsupported);
    }
}

#[test]
fn error_codes_are_classified() {
    let two = Some(Duration::from_secs(2));
    assert_eq!(
        classify(400, Some(130_429), None, two).kind(),
        ErrorKind::RateLimited { retry_after: two }
    );
    assert_eq!(
        classify(400, Some(80_007), None, None).kind(),
        ErrorKind::RateLimited { retry_after: None }
    );
    assert_eq!(
        classify(400, Some(131_056), None, None).kind(),
        ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(6))
        }
    );
    assert_eq!(
        classify(400, Some(131_047), None, None).kind(),
        ErrorKind::WindowClosed
    );
    assert_eq!(classify(401, Some(190), None, None).kind(), ErrorKind::Auth);
    assert_eq!(
        classify(400, Some(131_026), None, None).kind(),
        ErrorKind::Unreachable
    );
    assert_eq!(
        classify(400, Some(100), Some(2_494_010), None).kind(),
        ErrorKind::Unreachable
    );
    assert_eq!(
        classify(400, Some(132_001), None, None).kind(),
        ErrorKind::Rejected
    );
    assert_eq!(
        classify(500, Some(131_000), None, None).kind(),
        ErrorKind::Transient
    );
    assert_eq!(classify(503, None, None, None).kind(), ErrorKind::Transient);
    assert_eq!(
        classify(429, None, None, two).kind(),
        ErrorKind::RateLimited { retry_after: two }
    );
}

#[test]
fn config_checks_report_every_problem() {
    let mut c = config();
    c.app_secret = Secret::new("");
    c.phone_number_id = "+49 151".into();
    c.api_version = "21".into();
    c.window_template = Some(TemplateConfig {
        name: String::new(),
        language: "en".into(),
        params: vec![],
    });
    let errors = c.validate().unwrap_err().to_string();
    for key in [
        "app_secret: missing",
        "phone_number_id:",
        "api_version:",
        "window_template.name: missing",
    ] {
        assert!(errors.contains(key), "{key} in {errors}");
    }
}

/// Cases per fuzz property: `TANDEM_FUZZ_CASES` (default 256; a CI-sized run of 30 s
/// or more is about 200000).
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
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        "[a-z_]{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("text"),
            Just("interactive"),
            Just("button"),
            Just("location"),
            Just("image"),
            Just("contacts"),
            Just("reaction"),
            Just("button_reply"),
            Just("list_reply"),
            Just("failed"),
            Just("read"),
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("id".to_owned()),
                    Just("from".to_owned()),
                    Just("text".to_owned()),
                    Just("body".to_owned()),
                    Just("interactive".to_owned()),
                    Just("button_reply".to_owned()),
                    Just("latitude".to_owned()),
                    Just("status".to_owned()),
                    Just("errors".to_owned()),
                    Just("code".to_owned()),
                    "[a-z]{1,8}",
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
        messages in prop::collection::vec(json_value(), 0..4),
        statuses in prop::collection::vec(json_value(), 0..3),
        contacts in json_value(),
    ) {
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": "109876543210987"},
                "contacts": contacts, "messages": messages, "statuses": statuses,
            }}]}],
        });
        let _ = parse_for_tests(body.to_string().as_bytes());
    }
}

fn one(message: serde_json::Value) -> Content {
    let body = tandem_testkit::payloads::whatsapp_message(
        "109876543210987",
        "4915112345678",
        "Lena",
        message,
    );
    let mut parsed = parse_for_tests(body.as_bytes()).unwrap();
    assert_eq!(parsed.messages.len(), 1);
    parsed.messages.remove(0).content
}

#[test]
fn orders_flows_system_notices_edits_and_deletions_are_understood() {
    let base = |kind: &str, body: serde_json::Value| {
        let mut m = serde_json::json!({"from": "4915112345678", "id": "wamid.O", "timestamp": "1767261600", "type": kind});
        m[kind] = body;
        m
    };
    match one(base(
        "order",
        serde_json::json!({"catalog_id": "cat_1", "text": "gift wrap please", "product_items": [
            {"product_retailer_id": "SKU-1", "quantity": 2, "item_price": 12.5, "currency": "EUR"},
            {"product_retailer_id": "SKU-2", "quantity": "1", "item_price": "3", "currency": "EUR"}
        ]}),
    )) {
        Content::Structured {
            kind,
            summary,
            fields,
        } => {
            assert_eq!(kind, "whatsapp:order");
            assert_eq!(
                summary,
                "order: 2 x SKU-1 (12.5 EUR), 1 x SKU-2 (3 EUR); note: gift wrap please"
            );
            assert_eq!(fields["catalog_id"], "cat_1");
        }
        other => panic!("{other:?}"),
    }
    let mut flow = base(
        "interactive",
        serde_json::json!({"type": "nfm_reply", "nfm_reply": {
            "name": "flow", "body": "Sent",
            "response_json": "{\"flow_token\":\"tok\",\"size\":\"M\",\"colour\":\"blue\"}"
        }}),
    );
    flow["type"] = serde_json::json!("interactive");
    match one(flow) {
        Content::Structured {
            kind,
            summary,
            fields,
        } => {
            assert_eq!(kind, "whatsapp:flow");
            assert_eq!(summary, "flow answered: colour: blue, size: M");
            assert!(!fields.contains_key("flow_token"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        one(base(
            "system",
            serde_json::json!({"body": "Lena changed from A to B", "new_wa_id": "4915199999999", "type": "user_changed_number"})
        )),
        Content::Event {
            kind: "whatsapp:system:user_changed_number".into()
        }
    );
    assert_eq!(
        one(base(
            "edit",
            serde_json::json!({"original_message_id": "wamid.A", "message": {"type": "text", "text": {"body": "new words"}}})
        )),
        Content::Edited {
            of: Some("wamid.A".into()),
            text: Some("new words".into())
        }
    );
    assert_eq!(
        one(base(
            "revoke",
            serde_json::json!({"original_message_id": "wamid.A"})
        )),
        Content::Deleted {
            of: Some("wamid.A".into())
        }
    );
}

#[test]
fn an_unreadable_message_is_kept_and_the_rest_of_the_batch_recorded() {
    let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"metadata": {"phone_number_id": "109876543210987"},
            "messages": [
                {"from": "4915112345678", "id": "wamid.bad", "timestamp": "1", "type": "text", "text": "not an object"},
                {"from": "4915112345678", "id": "wamid.ok", "timestamp": "1", "type": "text", "text": {"body": "hello"}},
                {"type": "text"}
            ],
            "statuses": [{"id": ["x"]}, {"id": "wamid.S", "status": "read", "timestamp": "1", "recipient_id": "4915112345678"}]
        }},
        {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}
    ]}]});
    let parsed = parse_for_tests(body.to_string().as_bytes()).unwrap();
    let got: Vec<_> = parsed
        .messages
        .iter()
        .map(|m| (m.platform_message_id.as_str().to_owned(), m.content.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "wamid.bad".to_owned(),
                Content::Unsupported {
                    kind: "whatsapp:unparsable".into()
                }
            ),
            (
                "wamid.ok".to_owned(),
                Content::Text {
                    text: "hello".into()
                }
            ),
        ]
    );
    assert_eq!(parsed.statuses.len(), 1);
    assert_eq!(parsed.unreadable, 2);
    assert_eq!(parsed.ignored_fields, vec!["account_update".to_owned()]);
}

#[test]
fn a_business_app_echo_is_a_person_answering() {
    let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "smb_message_echoes", "value": {"messaging_product": "whatsapp",
            "metadata": {"phone_number_id": "109876543210987"},
            "message_echoes": [{"from": "15550101234", "to": "4915112345678", "id": "wamid.E", "timestamp": "1767261600", "type": "text", "text": {"body": "On it!"}}]
        }}
    ]}]});
    let parsed = parse_for_tests(body.to_string().as_bytes()).unwrap();
    assert_eq!(parsed.messages.len(), 1);
    assert_eq!(parsed.messages[0].sender.subject, "4915112345678");
    assert_eq!(
        parsed.messages[0].content,
        Content::ExternalReply {
            text: Some("On it!".into())
        }
    );
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
