//! Unit tests: normalization of every update kind, `/start` payloads, phone numbers,
//! send keyboards, error classification, the polling worker against the fake Bot API
//! (offset stored only after recording; a restart from an older offset records nothing
//! twice), and fuzz targets for the update parser (`TANDEM_FUZZ_CASES` cases).

use crate::inbound::parse;
use crate::normalize::{Normalized, normalize_phone, start};
use crate::outbound::keyboard;
use crate::polling::{OFFSET_KEY, Poller};
use proptest::prelude::*;
use std::time::Duration;
use tandem_sdk::model::{Button, ChannelId, Content, MediaKind, OutboundContent};
use tandem_sdk::{ErrorKind, Secret};
use tandem_testkit::fake::TelegramFake;
use tandem_testkit::{RecordingInbound, eventually};

const TOKEN: &str = "7012345678:AAtest";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn channel() -> ChannelId {
    ChannelId::new("telegram")
}

fn message(n: Normalized) -> tandem_sdk::model::InboundMessage {
    match n {
        Normalized::Message { message, .. } => *message,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn updates_are_normalized() {
    let text = message(parse(&fixture("inbound/update_text_message.json"), &channel()).unwrap());
    assert_eq!(text.platform_message_id.as_str(), "824301001");
    assert_eq!(text.sender.subject, "5123456789");
    assert_eq!(text.sender.display_name.as_deref(), Some("Sofia Rossi"));
    assert!(matches!(&text.content, Content::Text { text } if text.starts_with("Ciao!")));
    assert_eq!(text.sent_at.unix_timestamp(), 1_767_261_600);

    let start = message(
        parse(
            &fixture("inbound/update_start_with_payload.json"),
            &channel(),
        )
        .unwrap(),
    );
    assert_eq!(
        start.content,
        Content::Start {
            payload: Some("order-A1042_src-email".into()),
            source: Some("start".into())
        }
    );

    let contact =
        message(parse(&fixture("inbound/update_contact_share.json"), &channel()).unwrap());
    assert_eq!(
        contact.sender.verified_phone.as_deref(),
        Some("+393401234567"),
        "own contact → verified phone"
    );
    assert!(
        matches!(&contact.content, Content::Contact { own: true, phone, .. } if phone == "+393401234567")
    );

    let Normalized::Message {
        message: tap,
        callback,
    } = parse(&fixture("inbound/update_callback_query.json"), &channel()).unwrap()
    else {
        panic!("a button tap is a message");
    };
    assert_eq!(
        tap.content,
        Content::Postback {
            payload: "handoff:A-1042".into(),
            title: Some("Talk to a person".into())
        }
    );
    assert_eq!(
        callback.map(|c| c.0),
        Some("2202494372315190123".to_owned()),
        "the query is answered"
    );

    let Normalized::Reachability {
        subject,
        reachability,
    } = parse(
        &fixture("inbound/update_my_chat_member_blocked.json"),
        &channel(),
    )
    .unwrap()
    else {
        panic!("a block is a reachability report");
    };
    assert_eq!(subject, "5123456789");
    assert!(!reachability.reachable);
    assert_eq!(reachability.reason, "telegram:blocked");
}

#[test]
fn unknown_and_group_updates() {
    let poll = tandem_testkit::payloads::telegram_update(
        9,
        "poll_answer",
        serde_json::json!({"poll_id": "1", "user": {"id": 42, "is_bot": false, "first_name": "A"}, "option_ids": [0]}),
    );
    let m = message(parse(poll.to_string().as_bytes(), &channel()).unwrap());
    assert_eq!(
        m.content,
        Content::Unsupported {
            kind: "telegram:poll_answer".into()
        }
    );
    assert_eq!(m.sender.subject, "42");
    let dice = serde_json::json!({"update_id": 10, "message": {
        "message_id": 1, "from": {"id": 42, "is_bot": false, "first_name": "A"},
        "chat": {"id": 42, "type": "private", "first_name": "A"}, "date": 1, "dice": {"emoji": "🎲", "value": 3}}});
    let m = message(parse(dice.to_string().as_bytes(), &channel()).unwrap());
    assert_eq!(
        m.content,
        Content::Unsupported {
            kind: "telegram:message:dice".into()
        }
    );
    let group = serde_json::json!({"update_id": 11, "message": {
        "message_id": 1, "from": {"id": 42, "is_bot": false, "first_name": "A"},
        "chat": {"id": -100123, "type": "supergroup", "title": "G"}, "date": 1, "text": "hi"}});
    let m = message(parse(group.to_string().as_bytes(), &channel()).unwrap());
    assert_eq!(
        m.content,
        Content::Event {
            kind: "telegram:group_message".into()
        }
    );
    assert!(parse(b"[]", &channel()).is_err());
}

#[test]
fn start_payloads_and_phones() {
    assert_eq!(
        start("/start"),
        Some(Content::Start {
            payload: None,
            source: Some("start".into())
        })
    );
    assert!(
        matches!(start("/start@acme_bot abc"), Some(Content::Start { payload: Some(p), .. }) if p == "abc")
    );
    assert_eq!(start("/started"), None);
    assert_eq!(start("hello"), None);
    assert_eq!(normalize_phone("39 340-123 4567"), "+393401234567");
    assert_eq!(normalize_phone("+1 (555) 010"), "+1555010");
}

#[test]
fn keyboards_and_refusals() {
    let caps = crate::capabilities(&config("http://127.0.0.1:9"));
    let two = OutboundContent::with_buttons(
        "Pick",
        vec![
            Button {
                title: "Yes".into(),
                payload: "yes".into(),
            },
            Button {
                title: "No".into(),
                payload: "no".into(),
            },
        ],
    );
    let k = keyboard(&two, &caps).unwrap().expect("a keyboard");
    assert_eq!(k.inline_keyboard.len(), 2, "one button per row");
    assert!(
        keyboard(&OutboundContent::text("hi"), &caps)
            .unwrap()
            .is_none()
    );
    let long_payload = OutboundContent::with_buttons(
        "Pick",
        vec![Button {
            title: "A".into(),
            payload: "x".repeat(65),
        }],
    );
    assert_eq!(
        keyboard(&long_payload, &caps).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        keyboard(&OutboundContent::text(""), &caps)
            .unwrap_err()
            .kind(),
        ErrorKind::Unsupported
    );
}

fn config(api_base: &str) -> crate::TelegramConfig {
    toml::from_str(&format!(
        r#"bot_token = "{TOKEN}"
        secret_token = "s3cret_token-1"
        mode = "polling"
        poll_timeout_secs = 1
        api_base = "{api_base}""#
    ))
    .unwrap()
}

#[test]
fn config_checks() {
    let mut c = config("http://127.0.0.1:9");
    assert!(c.validate().is_ok());
    c.mode = crate::Mode::Webhook;
    c.secret_token = Secret::new("has space");
    c.bot_token = Secret::new("has space");
    c.poll_timeout_secs = 30;
    let errors = c.validate().unwrap_err().to_string();
    for key in ["secret_token:", "bot_token:", "poll_timeout_secs:"] {
        assert!(errors.contains(key), "{key} in {errors}");
    }
}

async fn poller(
    fake: &TelegramFake,
    inbound: &RecordingInbound,
) -> (Poller, tokio_util::sync::CancellationToken) {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let bot = crate::api::bot(&config(fake.base_url()), reqwest::Client::new()).unwrap();
    (
        Poller {
            bot,
            sink: inbound.sink(channel()),
            shutdown: shutdown.clone(),
            timeout_secs: 1,
            lease: std::time::Duration::from_secs(3),
        },
        shutdown,
    )
}

#[tokio::test]
async fn polling_records_then_stores_the_offset_and_a_restart_reprocesses_nothing() {
    let fake = TelegramFake::start(TOKEN).await;
    let fixture: serde_json::Value =
        serde_json::from_slice(&fixture("polling/getUpdates_response.json")).unwrap();
    for u in fixture["result"].as_array().unwrap() {
        fake.push_update(u.clone());
    }
    for i in 0..3 {
        fake.push_update(tandem_testkit::payloads::telegram_text(
            824_301_100 + i,
            42,
            "hello",
            1_767_261_600,
        ));
    }
    let inbound = RecordingInbound::new();
    let (p, stop) = poller(&fake, &inbound).await;
    let run = tokio::spawn(p.run());
    eventually(
        10,
        "four updates recorded and the offset stored",
        || async {
            (inbound.accepted().len() == 4
                && inbound.kv(&channel(), OFFSET_KEY).as_deref() == Some("824301103"))
            .then_some(())
        },
    )
    .await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("prompt stop")
        .unwrap()
        .unwrap();
    assert_eq!(
        fake.calls("deleteWebhook").len(),
        1,
        "the webhook is removed before polling"
    );

    // A crash before the offset was stored: Telegram hands the same updates again.
    let fake2 = TelegramFake::start(TOKEN).await;
    for i in 0..3 {
        fake2.push_update(tandem_testkit::payloads::telegram_text(
            824_301_100 + i,
            42,
            "hello",
            1_767_261_600,
        ));
    }
    fake2.push_update(tandem_testkit::payloads::telegram_text(
        824_301_103,
        42,
        "new",
        1_767_261_600,
    ));
    inbound.set_kv(&channel(), OFFSET_KEY, "824301100");
    let (p, stop) = poller(&fake2, &inbound).await;
    let run = tokio::spawn(p.run());
    eventually(10, "the new update recorded", || async {
        (inbound.accepted().len() == 5).then_some(())
    })
    .await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("prompt stop")
        .unwrap()
        .unwrap();
    assert_eq!(
        inbound.duplicates(),
        3,
        "the redelivered updates had no second effect"
    );
    assert_eq!(
        inbound.kv(&channel(), OFFSET_KEY).as_deref(),
        Some("824301104")
    );
}

#[tokio::test]
async fn polling_keeps_the_offset_when_the_store_fails() {
    let fake = TelegramFake::start(TOKEN).await;
    fake.push_update(tandem_testkit::payloads::telegram_text(
        5,
        42,
        "hello",
        1_767_261_600,
    ));
    let inbound = RecordingInbound::failing();
    let (p, stop) = poller(&fake, &inbound).await;
    let run = tokio::spawn(p.run());
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(inbound.accepted().is_empty());
    inbound.set_failing(false);
    eventually(10, "recorded once the store is back", || async {
        (inbound.accepted().len() == 1).then_some(())
    })
    .await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("prompt stop")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn errors_are_classified() {
    let fake = TelegramFake::start(TOKEN).await;
    let bot = crate::api::bot(&config(fake.base_url()), reqwest::Client::new()).unwrap();
    let adapter =
        crate::outbound::TelegramAdapter::new(bot, crate::capabilities(&config(fake.base_url())));
    let msg = |recipient: &str| tandem_sdk::model::OutboundMessage {
        outbox_id: tandem_sdk::model::OutboxId::generate(),
        channel: channel(),
        recipient: recipient.into(),
        conversation_id: tandem_sdk::model::ConversationId::generate(),
        from: tandem_sdk::model::Party::Bot,
        content: OutboundContent::text("hi"),
        message_id: tandem_sdk::model::MessageId::generate(),
        created_at: tandem_sdk::model::now(),
    };
    use tandem_sdk::ChannelAdapter;
    fake.script(tandem_testkit::Reply::Blocked);
    assert_eq!(
        adapter.send(msg("42")).await.unwrap_err().kind(),
        ErrorKind::Unreachable
    );
    fake.script(tandem_testkit::Reply::RateLimited {
        retry_after_secs: 7,
    });
    assert_eq!(
        adapter.send(msg("42")).await.unwrap_err().kind(),
        ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(
        adapter.send(msg("@someone")).await.unwrap_err().kind(),
        ErrorKind::Rejected
    );
    let ok = adapter.send(msg("42")).await.unwrap();
    assert!(
        ok.platform_message_id
            .is_some_and(|id| id.starts_with("42:"))
    );
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
        (0u32..10).prop_map(serde_json::Value::from),
        "[a-z_/ ]{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("private"),
            Just("group"),
            Just("kicked"),
            Just("member"),
            Just("/start x")
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("message_id".to_owned()),
                    Just("from".to_owned()),
                    Just("chat".to_owned()),
                    Just("id".to_owned()),
                    Just("type".to_owned()),
                    Just("date".to_owned()),
                    Just("text".to_owned()),
                    Just("first_name".to_owned()),
                    Just("is_bot".to_owned()),
                    Just("contact".to_owned()),
                    Just("phone_number".to_owned()),
                    Just("data".to_owned()),
                    Just("status".to_owned()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&bytes, &channel());
    }

    #[test]
    fn fuzz_parser_never_panics_on_shaped_json(
        id in any::<u32>(),
        key in prop_oneof![Just("message"), Just("edited_message"), Just("callback_query"), Just("my_chat_member"), Just("poll_answer"), Just("inline_query")],
        payload in json_value(),
    ) {
        let mut update = serde_json::json!({"update_id": id});
        update[key] = payload;
        let _ = parse(update.to_string().as_bytes(), &channel());
    }
}

#[test]
fn the_secret_token_is_compared_exactly() {
    use axum::http::{HeaderMap, HeaderValue};
    let with = |v: &'static str| {
        let mut h = HeaderMap::new();
        h.insert(
            "x-telegram-bot-api-secret-token",
            HeaderValue::from_static(v),
        );
        h
    };
    assert!(crate::inbound::secret_ok(
        &with("s3cret_token-1"),
        "s3cret_token-1"
    ));
    for wrong in [
        "s3cret_token-1 ",
        " s3cret_token-1",
        "s3cret_token-",
        "S3CRET_TOKEN-1",
        "",
    ] {
        assert!(
            !crate::inbound::secret_ok(&with(wrong), "s3cret_token-1"),
            "{wrong:?}"
        );
    }
    assert!(!crate::inbound::secret_ok(
        &with("s3cret_token-1"),
        "s3cret_token-1 "
    ));
    assert!(!crate::inbound::secret_ok(
        &HeaderMap::new(),
        "s3cret_token-1"
    ));
    assert!(
        !crate::inbound::secret_ok(&with(""), ""),
        "no secret configured accepts nothing"
    );
}

fn parsed(update: serde_json::Value) -> tandem_sdk::model::InboundMessage {
    message(parse(update.to_string().as_bytes(), &channel()).unwrap())
}

#[test]
fn older_shapes_and_a_chat_without_type_keep_the_text_and_media() {
    // Issue 18 item 4: one field teloxide does not accept dropped the whole message.
    let no_type = parsed(serde_json::json!({"update_id": 20, "message": {
        "message_id": 5, "from": {"id": 42, "is_bot": false, "first_name": "Ana"},
        "chat": {"id": 42, "first_name": "Ana"}, "date": 1767261600, "text": "where is my order?"}}));
    assert_eq!(
        no_type.content,
        Content::Text {
            text: "where is my order?".into()
        }
    );
    assert_eq!(no_type.sender.subject, "42");
    assert_eq!(no_type.platform_message_id.as_str(), "20");
    // A sticker and a photo without `file_unique_id` or `type` (older Bot API shapes).
    let sticker = parsed(serde_json::json!({"update_id": 21, "message": {
        "message_id": 6, "from": {"id": 42, "is_bot": false, "first_name": "Ana"},
        "chat": {"id": 42, "type": "private"}, "date": 1767261600,
        "sticker": {"file_id": "CAAD_sticker", "width": 512, "height": 512}}}));
    assert!(
        matches!(&sticker.content, Content::Media { kind: MediaKind::Sticker, reference, .. } if reference == "CAAD_sticker"),
        "{:?}",
        sticker.content
    );
    let photo = parsed(serde_json::json!({"update_id": 22, "message": {
        "message_id": 7, "from": {"id": 42, "is_bot": false, "first_name": "Ana"},
        "chat": {"id": 42, "type": "private"}, "date": 1767261600, "caption": "the dent",
        "photo": [{"file_id": "small", "width": 90, "height": 90}, {"file_id": "large", "width": 800, "height": 600}]}}));
    assert_eq!(
        photo.content,
        Content::Media {
            kind: MediaKind::Image,
            reference: "large".into(),
            mime_type: Some("image/jpeg".into()),
            caption: Some("the dent".into())
        }
    );
    // Media nobody can read, with words: the words are kept.
    let odd = parsed(serde_json::json!({"update_id": 23, "message": {
        "message_id": 8, "from": {"id": 42, "is_bot": false, "first_name": "Ana"},
        "chat": {"id": 42}, "date": "yesterday", "caption": "see attached", "video": {"duration": "long"}}}));
    assert_eq!(
        odd.content,
        Content::Text {
            text: "see attached".into()
        }
    );
}

#[test]
fn edits_reactions_and_queries_are_understood_or_recorded() {
    let edit = parsed(serde_json::json!({"update_id": 30, "edited_message": {
        "message_id": 5, "from": {"id": 42, "is_bot": false, "first_name": "Ana"},
        "chat": {"id": 42, "type": "private", "first_name": "Ana"}, "date": 1767261600, "edit_date": 1767261700, "text": "order 12345 please"}}));
    assert_eq!(
        edit.content,
        Content::Edited {
            of: Some("5".into()),
            text: Some("order 12345 please".into())
        }
    );
    let reaction = parsed(serde_json::json!({"update_id": 31, "message_reaction": {
        "chat": {"id": 42, "type": "private"}, "message_id": 9, "user": {"id": 42, "is_bot": false, "first_name": "Ana"},
        "date": 1767261600, "old_reaction": [], "new_reaction": [{"type": "emoji", "emoji": "👍"}]}}));
    assert_eq!(
        reaction.content,
        Content::Reaction {
            emoji: "👍".into(),
            to: Some("9".into())
        }
    );
    for (kind, body) in [
        (
            "inline_query",
            serde_json::json!({"id": "q1", "from": {"id": 42, "is_bot": false, "first_name": "Ana"}, "query": "shoes", "offset": ""}),
        ),
        (
            "pre_checkout_query",
            serde_json::json!({"id": "p1", "from": {"id": 42, "is_bot": false, "first_name": "Ana"}, "currency": "EUR", "total_amount": 1999, "invoice_payload": "order-1"}),
        ),
        (
            "shipping_query",
            serde_json::json!({"id": "s1", "from": {"id": 42, "is_bot": false, "first_name": "Ana"}, "invoice_payload": "order-1", "shipping_address": {"country_code": "DE", "state": "", "city": "Berlin", "street_line1": "Example 1", "street_line2": "", "post_code": "10115"}}),
        ),
    ] {
        let m = parsed(tandem_testkit::payloads::telegram_update(40, kind, body));
        assert_eq!(
            m.content,
            Content::Event {
                kind: format!("telegram:{kind}")
            }
        );
    }
    let post = serde_json::json!({"update_id": 41, "channel_post": {"message_id": 1, "chat": {"id": -1001, "type": "channel", "title": "News"}, "date": 1, "text": "hello"}});
    assert!(matches!(
        parse(post.to_string().as_bytes(), &channel()).unwrap(),
        Normalized::Ignored(_)
    ));
}

fn unknown_field() -> impl Strategy<Value = (u32, u16, serde_json::Value)> {
    (any::<u32>(), any::<u16>(), json_value())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: fuzz_cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Unknown fields anywhere in a recorded update never change what is read from the
    /// known ones.
    #[test]
    fn unknown_fields_never_change_the_parse_of_known_ones(
        additions in prop::collection::vec(unknown_field(), 1..6),
    ) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inbound");
        // Updates without a date (queries, poll answers) get the receive time.
        let read = |original: &serde_json::Value, v: &serde_json::Value| {
            let text = format!("{:?}", parse(v.to_string().as_bytes(), &channel()));
            let dated = original
                .as_object()
                .and_then(|o| o.values().find_map(|x| x.get("date")))
                .is_some();
            if dated {
                return text;
            }
            text.split("sent_at: ")
                .enumerate()
                .map(|(i, part)| if i == 0 { part } else { part.split_once(", ").map_or(part, |(_, rest)| rest) })
                .collect::<Vec<_>>()
                .join("sent_at: *, ")
        };
        let kept = tandem_testkit::fixtures::unknown_fields_keep_the_parse(dir, &additions, read);
        prop_assert!(kept.is_ok(), "{}", kept.unwrap_err());
    }
}
