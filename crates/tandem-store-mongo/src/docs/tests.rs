//! BSON round-trip tests of every document type: record → document → BSON bytes →
//! document → record gives the record back, every document carries `schema_version`,
//! timestamps are BSON `DateTime`s, and unreadable documents are `Corrupt`. No server.

use super::conversations::{ConversationDoc, JournalDoc};
use super::customers::{CustomerDoc, IdentityDoc};
use super::escalations::EscalationDoc;
use super::inbound::{CounterDoc, InboundDoc};
use super::kv::KvDoc;
use super::outbox::OutboxDoc;
use super::profiles::{CustomerEventDoc, ReachabilityDoc};
use super::transcript::TranscriptDoc;
use super::*;
use bson::{Bson, doc, spec::ElementType};
use std::collections::BTreeMap;
use tandem_core::store::{
    AgentRef, ConversationRecord, ConversationState, ConversationStatus, Csat, CsatPending,
    CsatStage, CustomerEvent, CustomerRecord, EscalationEvent, HandoffState, HandoffStatus,
    HandoffTransition, IdentityRecord, NewOutboxEntry, OutboxEntry, OutboxStatus, Owner,
    PendingInbound, Reason,
};
use tandem_model::{
    Button, ChannelId, ChoiceStyle, Content, ConversationId, CustomerId, DeliveryState,
    EscalationId, ExternalIdentity, InboundMessage, MediaKind, MessageId, OutboundContent,
    OutboundMessage, OutboxId, Party, PlatformMessageId, Reachability, TemplateMessage, Timestamp,
    TranscriptEntry,
};

/// A fixed instant with milliseconds (stores keep milliseconds).
pub(super) fn t(offset_ms: i64) -> Timestamp {
    let base = 1_700_000_000_123_i64 + offset_ms;
    Timestamp::from_unix_timestamp_nanos(i128::from(base) * 1_000_000).expect("valid instant")
}

/// Serializes `doc` to BSON bytes and reads it back, checking `schema_version`.
fn through_bytes<T: Serialize + DeserializeOwned>(what: &str, value: &T) -> (Document, T) {
    let bytes = bson::serialize_to_vec(value).expect("serialize to BSON bytes");
    let raw: Document = bson::deserialize_from_slice(&bytes).expect("BSON bytes to a document");
    assert_eq!(
        raw.get("schema_version"),
        Some(&Bson::Int32(SCHEMA_VERSION)),
        "{what} must carry schema_version: {raw:?}"
    );
    let back = decode(what, raw.clone()).expect("decode the document");
    (raw, back)
}

fn assert_datetimes(raw: &Document, fields: &[&str]) {
    for f in fields {
        assert_eq!(
            raw.get(f).map(Bson::element_type),
            Some(ElementType::DateTime),
            "`{f}` must be a BSON DateTime in {raw:?}"
        );
    }
}

pub(super) fn all_contents() -> Vec<Content> {
    vec![
        Content::Text {
            text: "Grüße \"quoted\"\n\u{1f600} $not.an.operator".to_owned(),
        },
        Content::Postback {
            payload: "ORDER".to_owned(),
            title: Some("Order".to_owned()),
        },
        Content::Postback {
            payload: "YES".to_owned(),
            title: None,
        },
        Content::Media {
            kind: MediaKind::Image,
            reference: "media-1".to_owned(),
            mime_type: Some("image/jpeg".to_owned()),
            caption: Some("receipt".to_owned()),
        },
        Content::Media {
            kind: MediaKind::Sticker,
            reference: "s".to_owned(),
            mime_type: None,
            caption: None,
        },
        Content::Location {
            latitude: 48.858_37,
            longitude: -2.294_481,
            name: Some("Shop".to_owned()),
        },
        Content::Contact {
            phone: "+4915112345678".to_owned(),
            name: None,
            own: true,
        },
        Content::Reaction {
            emoji: "\u{1f44d}".to_owned(),
            to: Some("wamid.9".to_owned()),
        },
        Content::Start {
            payload: Some("code-123".to_owned()),
            source: Some("start".to_owned()),
        },
        Content::Event {
            kind: "messenger:pass_thread_control".to_owned(),
        },
        Content::Unsupported {
            kind: "whatsapp:order".to_owned(),
        },
    ]
}

#[test]
fn inbound_round_trips_every_content() {
    for (i, content) in all_contents().into_iter().enumerate() {
        let message = InboundMessage {
            channel: ChannelId::new("whatsapp"),
            platform_message_id: PlatformMessageId::new(format!("wamid.{i}")),
            sender: ExternalIdentity {
                display_name: Some("Ada".to_owned()),
                verified_phone: Some("+15550001".to_owned()),
                verified_email: Some("ada@example.com".to_owned()),
                verified: i % 2 == 0,
                ..ExternalIdentity::new(ChannelId::new("whatsapp"), "15550001")
            },
            sent_at: t(-5),
            content,
        };
        let doc = InboundDoc::new(7 + i as u64, &message, t(0)).expect("encode");
        let (raw, back) = through_bytes("inbound record", &doc);
        assert_eq!(back, doc);
        assert_datetimes(&raw, &["sent_at", "received_at"]);
        assert_eq!(
            raw.get("_id"),
            Some(&Bson::Int64(7 + i as i64)),
            "seq is _id"
        );
        assert_eq!(raw.get("processed"), Some(&Bson::Boolean(false)));
        assert_eq!(InboundDoc::seq_of(&raw).expect("seq"), 7 + i as u64);
        assert_eq!(
            back.into_pending().expect("record"),
            PendingInbound {
                seq: 7 + i as u64,
                message,
                received_at: t(0),
            }
        );
    }
}

#[test]
fn counter_round_trips() {
    let doc = CounterDoc {
        name: "inbound_seq".to_owned(),
        schema_version: SCHEMA_VERSION,
        value: 41,
    };
    let (raw, back) = through_bytes("counter", &doc);
    assert_eq!(back, doc);
    assert_eq!(CounterDoc::value_of(raw).expect("value"), 41);
}

#[test]
fn customer_and_identity_round_trip() {
    let record = CustomerRecord {
        id: CustomerId::new("cus_1"),
        display_name: Some("Ada Lovelace".to_owned()),
        segment: Some("vip".to_owned()),
        attributes: BTreeMap::from([
            ("plan".to_owned(), serde_json::json!("pro")),
            ("seats".to_owned(), serde_json::json!(5)),
            ("ratio".to_owned(), serde_json::json!(0.25)),
            ("flags".to_owned(), serde_json::json!([true, null, "x"])),
            ("nested".to_owned(), serde_json::json!({"a": {"b": -3}})),
        ]),
        created_at: t(0),
    };
    let doc = CustomerDoc::from_record(&record, t(10));
    let (raw, back) = through_bytes("customer", &doc);
    assert_datetimes(&raw, &["created_at", "updated_at"]);
    assert_eq!(back.into_record().expect("record"), record);

    let new = CustomerDoc::new(&CustomerId::new("cus_2"), None, t(1));
    let (_, back) = through_bytes("customer", &new);
    let fresh = back.into_record().expect("record");
    assert_eq!((fresh.display_name, fresh.segment), (None, None));
    assert!(fresh.attributes.is_empty());

    let identity = IdentityRecord {
        customer_id: record.id.clone(),
        channel: ChannelId::new("webchat"),
        subject: "user:42".to_owned(),
        verified: true,
        created_at: t(3),
        source: "admin".to_owned(),
        verified_email: Some("ada@example.com".to_owned()),
        verified_phone: Some("+15550100".to_owned()),
    };
    let doc = IdentityDoc::from_record(&identity);
    let (raw, back) = through_bytes("identity", &doc);
    assert_datetimes(&raw, &["created_at"]);
    assert_eq!(back.into_record().expect("record"), identity);

    let reported = ExternalIdentity {
        verified_email: Some("  Ada@Example.COM ".to_owned()),
        ..ExternalIdentity::new(ChannelId::new("webchat"), "user:43")
    };
    let doc = IdentityDoc::new(&record.id, &reported, t(4));
    let (raw, _) = through_bytes("identity", &doc);
    assert_eq!(raw.get("email"), Some(&Bson::from("Ada@Example.COM")));
    assert_eq!(
        raw.get("email_folded"),
        Some(&Bson::from("ada@example.com"))
    );
    assert_eq!(
        IdentityDoc::with_email("ADA@example.com "),
        doc! { "email_folded": "ada@example.com" }
    );
}

fn full_state() -> ConversationState {
    let handoff = HandoffState {
        id: "ho_1".to_owned(),
        desk: "zendesk".to_owned(),
        status: HandoffStatus::Accepted,
        category: Some("billing".to_owned()),
        priority: Some("high".to_owned()),
        target: Some("tier2".to_owned()),
        agent: Some(AgentRef {
            id: "a1".to_owned(),
            name: Some("Sam".to_owned()),
        }),
        transitions: vec![HandoffTransition {
            status: HandoffStatus::Queued,
            actor: "desk:zendesk".to_owned(),
            at_ms: 1_700_000_000_000,
        }],
        csat: Some(Csat {
            score: Some(4),
            comment: Some("ok".to_owned()),
            skipped: None,
            at_ms: Some(1_700_000_100_000),
        }),
        sla_breached_at_ms: Some(1_700_000_050_000),
        assignee: Some(AgentRef {
            id: "a2".to_owned(),
            name: None,
        }),
        routing: vec![tandem_core::store::RoutingStep {
            change: "rerouted".to_owned(),
            queue: "tier2".to_owned(),
            from: Some("tier1".to_owned()),
            agent: None,
            at_ms: 1_700_000_060_000,
        }],
    };
    ConversationState {
        owner: Owner::Agent,
        fallback_count: 2,
        negative_count: 1,
        last_intent: Some("refund".to_owned()),
        handoff_requested: true,
        last_customer_message_at: BTreeMap::from([("whatsapp".to_owned(), 1_700_000_000_123)]),
        slots: BTreeMap::from([("order_number".to_owned(), "A-42".to_owned())]),
        sentiment_history: vec![-0.5, 0.1, 0.333_333_34],
        handoff: Some(handoff.clone()),
        past_handoffs: vec![HandoffState {
            status: HandoffStatus::Resolved,
            ..handoff
        }],
        csat_pending: Some(CsatPending {
            handoff_id: "ho_1".to_owned(),
            awaiting: CsatStage::Comment,
        }),
        human_offered: true,
        offered_choices: vec![Button {
            title: "Yes".to_owned(),
            payload: "YES".to_owned(),
        }],
        // Fields added later round-trip through the same serde derive.
        ..ConversationState::default()
    }
}

pub(super) fn entry(conv: &ConversationRecord, seq: u64, content: Content) -> TranscriptEntry {
    TranscriptEntry {
        id: MessageId::new(format!("msg_{seq}")),
        conversation_id: conv.id.clone(),
        customer_id: conv.customer_id.clone(),
        seq,
        from: [Party::Customer, Party::Bot, Party::Agent, Party::System][seq as usize % 4],
        channel: conv.channel.clone(),
        at: t(seq as i64),
        content,
        buttons: if !seq.is_multiple_of(2) {
            vec![Button {
                title: "No".to_owned(),
                payload: "NO".to_owned(),
            }]
        } else {
            vec![]
        },
        platform_message_id: seq
            .is_multiple_of(3)
            .then(|| PlatformMessageId::new(format!("pm-{seq}"))),
    }
}

pub(super) fn conversation() -> ConversationRecord {
    ConversationRecord {
        id: ConversationId::new("conv_1"),
        customer_id: CustomerId::new("cus_1"),
        channel: ChannelId::new("whatsapp"),
        status: ConversationStatus::Open,
        state: full_state(),
        next_seq: 12,
        version: 7,
        opened_at: t(0),
        updated_at: t(99),
    }
}

fn escalation(conv: &ConversationRecord) -> EscalationEvent {
    EscalationEvent {
        id: EscalationId::new("esc_1"),
        conversation_id: conv.id.clone(),
        customer_id: conv.customer_id.clone(),
        at: t(5),
        message_seq: 11,
        escalate: true,
        reasons: vec![
            Reason {
                code: "keyword".to_owned(),
                category: Some("billing".to_owned()),
                evidence: "refund".to_owned(),
            },
            Reason {
                code: "keyword".to_owned(),
                category: None,
                evidence: "refund".to_owned(),
            },
            Reason {
                code: "sentiment_streak".to_owned(),
                category: None,
                evidence: "2".to_owned(),
            },
        ],
        category: Some("billing".to_owned()),
        priority: Some("high".to_owned()),
        target: Some("support".to_owned()),
        policy_version: "sha256:abc".to_owned(),
    }
}

fn outbound(conv: &ConversationRecord) -> NewOutboxEntry {
    NewOutboxEntry {
        message: OutboundMessage {
            outbox_id: OutboxId::new("out_1"),
            channel: conv.channel.clone(),
            recipient: "15550001".to_owned(),
            conversation_id: conv.id.clone(),
            from: Party::Bot,
            content: OutboundContent {
                text: "Pick one".to_owned(),
                buttons: vec![Button {
                    title: "A".to_owned(),
                    payload: "$a".to_owned(),
                }],
                style: ChoiceStyle::List,
                template: Some(TemplateMessage {
                    name: "case_follow_up".to_owned(),
                    language: "en_US".to_owned(),
                    params: vec!["Ada".to_owned()],
                }),
                tag: Some("HUMAN_AGENT".to_owned()),
                sender_name: None,
                media: None,
            },
            message_id: MessageId::new("msg_11"),
            created_at: t(6),
        },
        next_attempt_at: t(2_000),
    }
}

#[test]
fn transcript_round_trips_every_content_and_party() {
    let conv = conversation();
    for (seq, content) in all_contents().into_iter().enumerate() {
        let e = entry(&conv, seq as u64, content);
        let doc = TranscriptDoc::new(&e).expect("encode");
        let (raw, back) = through_bytes("transcript entry", &doc);
        assert_datetimes(&raw, &["at"]);
        assert_eq!(
            raw.get("_id"),
            Some(&Bson::from(e.id.as_str())),
            "message id is _id"
        );
        assert_eq!(back.into_entry().expect("entry"), e);
    }
}

#[test]
fn conversation_round_trips_with_full_state_and_journal() {
    let record = conversation();
    let doc = ConversationDoc::from_record(&record).expect("encode");
    let (raw, back) = through_bytes("conversation", &doc);
    assert_datetimes(&raw, &["opened_at", "updated_at"]);
    assert!(
        raw.get("journal").is_none(),
        "no journal unless a turn is applying"
    );
    assert_eq!(back.into_record().expect("record"), record);

    let journal = JournalDoc {
        token: "tok".to_owned(),
        started_at: DateTime::from_millis(1),
        inbound_seq: Some(3),
        processed_at: to_datetime(t(99)),
        entries: vec![
            TranscriptDoc::new(&entry(&record, 12, all_contents().remove(0))).expect("entry"),
        ],
        escalations: vec![EscalationDoc::new(&escalation(&record), 7, 0).expect("escalation")],
        outbox: vec![OutboxDoc::new(&outbound(&record), 7, 0).expect("outbox")],
        timers: vec![],
        ai_audit: vec![],
    };
    let with_journal = ConversationDoc {
        journal: Some(journal.clone()),
        status: ConversationStatus::Closed,
        closed_at: Some(to_datetime(t(50))),
        ..doc
    };
    let (raw, back) = through_bytes("conversation", &with_journal);
    assert_datetimes(&raw, &["closed_at"]);
    assert_eq!(back.journal, Some(journal));
    assert_eq!(
        back.into_record().expect("record").status,
        ConversationStatus::Closed
    );
}

#[test]
fn new_conversation_is_open_at_version_zero() {
    let doc = ConversationDoc::open(
        &ConversationId::new("conv_2"),
        &CustomerId::new("cus_1"),
        &ChannelId::new("web"),
        t(0),
    );
    let (raw, back) = through_bytes("conversation", &doc);
    assert_eq!(
        raw.get("status"),
        Some(&Bson::from("open")),
        "the one-open index filters on this"
    );
    let record = back.into_record().expect("record");
    assert_eq!((record.version, record.next_seq), (0, 0));
    assert_eq!(record.state, ConversationState::default());
}

#[test]
fn escalation_round_trips_and_keeps_distinct_labels() {
    let conv = conversation();
    let event = escalation(&conv);
    let doc = EscalationDoc::new(&event, 7, 2).expect("encode");
    let (raw, back) = through_bytes("escalation", &doc);
    assert_datetimes(&raw, &["at"]);
    assert_eq!(
        back.labels,
        vec![
            "category:billing".to_owned(),
            "keyword:refund".to_owned(),
            "sentiment_streak".to_owned()
        ],
        "one label per distinct Reason::label(), and the category"
    );
    assert_eq!(back.into_event().expect("event"), event);
}

#[test]
fn outbox_round_trips_through_its_life() {
    let conv = conversation();
    let new = outbound(&conv);
    let doc = OutboxDoc::new(&new, 7, 0).expect("encode");
    let (raw, back) = through_bytes("outbox entry", &doc);
    assert_datetimes(&raw, &["next_attempt_at", "due_at", "created_at"]);
    assert_eq!(raw.get("unfinished"), Some(&Bson::Boolean(true)));
    assert_eq!(
        raw.get("head"),
        Some(&Bson::Boolean(false)),
        "promotion marks the head"
    );
    assert_eq!(raw.get("status"), Some(&Bson::from("pending")));
    assert_eq!(
        back.into_entry().expect("entry"),
        OutboxEntry {
            id: new.message.outbox_id.clone(),
            message: new.message.clone(),
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: new.next_attempt_at,
            claim: None,
            claim_expires_at: None,
            last_error: None,
            platform_message_id: None,
            delivery_state: None,
            created_at: new.message.created_at,
        }
    );

    let sent = OutboxDoc {
        status: OutboxStatus::Sent,
        unfinished: false,
        attempts: 2,
        claim: Some("token".to_owned()),
        claim_expires_at: Some(to_datetime(t(3_000))),
        last_error: Some("HTTP 503".to_owned()),
        platform_message_id: Some("wamid.1".to_owned()),
        delivery_state: Some(DeliveryState::Read),
        finished_at: Some(to_datetime(t(3_001))),
        due_at: None,
        ..doc
    };
    let (raw, back) = through_bytes("outbox entry", &sent);
    assert_eq!(raw.get("delivery_state"), Some(&Bson::from("read")));
    let entry = back.into_entry().expect("entry");
    assert_eq!(entry.status, OutboxStatus::Sent);
    assert_eq!(entry.attempts, 2);
    assert_eq!(entry.claim_expires_at, Some(t(3_000)));
    assert_eq!(entry.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(entry.platform_message_id.as_deref(), Some("wamid.1"));
    assert_eq!(entry.delivery_state, Some(DeliveryState::Read));
    assert_eq!(entry.message, new.message);
}

#[test]
fn kv_events_and_reachability_round_trip() {
    let doc = KvDoc::new("telegram", "session:ü", "{\"k\":\"v\"}");
    let (_, back) = through_bytes("key-value pair", &doc);
    assert_eq!(back.into_value().expect("value"), "{\"k\":\"v\"}");

    let event = CustomerEvent {
        id: "evt_1".to_owned(),
        customer_id: CustomerId::new("cus_1"),
        name: "payment_failed".to_owned(),
        at: t(8),
        data: serde_json::json!({"amount": 42, "currency": "EUR", "items": [1.5, null]}),
    };
    let (raw, back) = through_bytes("customer event", &CustomerEventDoc::new(&event));
    assert_datetimes(&raw, &["at"]);
    assert_eq!(back.into_event().expect("event"), event);

    let report = Reachability {
        reachable: false,
        reason: "telegram:blocked".to_owned(),
        at: t(9),
    };
    let doc = ReachabilityDoc::new(&ChannelId::new("telegram"), "42", &report);
    let (raw, back) = through_bytes("reachability", &doc);
    assert_datetimes(&raw, &["at"]);
    assert_eq!(back.into_reachability().expect("report"), report);
}
