//! Tests of the filters, updates and index models the documents module builds: every
//! field a filter or an index names exists in the stored document, queries imply the
//! partial filter of the index meant to serve them, and the updates have the shapes the
//! crate docs describe. No server.

use super::conversations::{self, ConversationDoc, JournalDoc};
use super::customers::{self, CustomerDoc, IdentityDoc};
use super::escalations::{self, EscalationDoc};
use super::inbound::{self, InboundDoc};
use super::kv::{self, KvDoc};
use super::outbox::{self, OutboxDoc};
use super::profiles::{self, CustomerEventDoc, ReachabilityDoc};
use super::transcript::{self, TranscriptDoc};
use super::*;
use bson::{Bson, doc};
use mongodb::IndexModel;
use std::collections::BTreeMap;
use tandem_core::store::{
    ConversationRecord, ConversationState, ConversationStatus, CustomerEvent, CustomerUpdate,
    NewOutboxEntry,
};
use tandem_model::{
    ChannelId, Content, ConversationId, CustomerId, Delivery, DeliveryState, DeliveryStatus,
    DeliveryTarget, DeliveryUpdate, ExternalIdentity, FailureKind, InboundMessage, MessageId,
    OutboundContent, OutboundMessage, OutboxId, Party, PlatformMessageId, Reachability,
    TranscriptEntry, now,
};

/// Whether `path` (dotted) names a field of `doc`.
fn has_path(doc: &Document, path: &str) -> bool {
    match path.split_once('.') {
        None => doc.contains_key(path),
        Some((head, rest)) => match doc.get(head) {
            Some(Bson::Document(inner)) => has_path(inner, rest),
            _ => false,
        },
    }
}

/// Asserts that every field a filter names (outside operators) exists in `stored`.
fn assert_names_stored_fields(what: &str, filter: &Document, stored: &Document) {
    for (key, value) in filter {
        if let Some(op) = key.strip_prefix('$') {
            if let Bson::Array(parts) = value {
                for part in parts {
                    if let Bson::Document(part) = part {
                        assert_names_stored_fields(what, part, stored);
                    }
                }
            }
            assert!(!op.is_empty());
            continue;
        }
        assert!(
            has_path(stored, key),
            "{what}: field `{key}` is not in the stored document {stored:?}"
        );
    }
}

fn index<'a>(models: &'a [IndexModel], name: &str) -> &'a IndexModel {
    models
        .iter()
        .find(|m| m.options.as_ref().and_then(|o| o.name.as_deref()) == Some(name))
        .unwrap_or_else(|| panic!("no index named {name}"))
}

fn partial(model: &IndexModel) -> Option<&Document> {
    model
        .options
        .as_ref()
        .and_then(|o| o.partial_filter_expression.as_ref())
}

fn unique(model: &IndexModel) -> bool {
    model.options.as_ref().and_then(|o| o.unique) == Some(true)
}

/// Asserts that `query` contains the partial filter of `model` verbatim, so the planner
/// may use the index.
fn assert_implies_partial(what: &str, query: &Document, model: &IndexModel) {
    let filter = partial(model).expect("a partial index");
    for (key, value) in filter {
        assert_eq!(
            query.get(key),
            Some(value),
            "{what} must repeat the partial filter {filter:?} to use the index"
        );
    }
}

fn conversation() -> ConversationRecord {
    ConversationRecord {
        id: ConversationId::new("conv_1"),
        customer_id: CustomerId::new("cus_1"),
        channel: ChannelId::new("web"),
        status: ConversationStatus::Open,
        state: ConversationState::default(),
        next_seq: 1,
        version: 4,
        opened_at: now(),
        updated_at: now(),
    }
}

fn stored_outbox() -> Document {
    let conv = conversation();
    let entry = NewOutboxEntry {
        message: OutboundMessage {
            outbox_id: OutboxId::new("out_1"),
            channel: conv.channel.clone(),
            recipient: "alice".to_owned(),
            conversation_id: conv.id.clone(),
            from: Party::Bot,
            content: OutboundContent::text("hi"),
            message_id: MessageId::new("msg_1"),
            created_at: now(),
        },
        next_attempt_at: now(),
    };
    let mut doc = OutboxDoc::new(&entry, 4, 0).expect("doc");
    doc.claim = Some("t".to_owned());
    doc.claim_expires_at = Some(to_datetime(now()));
    doc.platform_message_id = Some("wamid.1".to_owned());
    doc.delivery_state = Some(DeliveryState::Sent);
    doc.finished_at = Some(to_datetime(now()));
    encode("outbox entry", &doc).expect("encode")
}

#[test]
fn index_plan_names_stored_fields_and_expected_constraints() {
    let conv = conversation();
    let stored_conversation = {
        let mut doc = ConversationDoc::from_record(&conv).expect("doc");
        doc.journal = Some(JournalDoc {
            token: "t".to_owned(),
            started_at: DateTime::now(),
            inbound_seq: None,
            processed_at: DateTime::now(),
            entries: vec![],
            escalations: vec![],
            outbox: vec![],
        });
        encode("conversation", &doc).expect("encode")
    };
    let msg = InboundMessage {
        channel: ChannelId::new("web"),
        platform_message_id: PlatformMessageId::new("m1"),
        sender: ExternalIdentity::new(ChannelId::new("web"), "alice"),
        sent_at: now(),
        content: Content::Text {
            text: "hi".to_owned(),
        },
    };
    let identity = ExternalIdentity {
        verified_email: Some("a@x".to_owned()),
        ..ExternalIdentity::new(ChannelId::new("web"), "alice")
    };
    let entry = TranscriptEntry {
        id: MessageId::new("msg_1"),
        conversation_id: conv.id.clone(),
        customer_id: conv.customer_id.clone(),
        seq: 0,
        from: Party::Customer,
        channel: conv.channel.clone(),
        at: now(),
        content: Content::Text {
            text: "hi".to_owned(),
        },
        buttons: vec![],
        platform_message_id: None,
    };
    let event = CustomerEvent {
        id: "e".to_owned(),
        customer_id: conv.customer_id.clone(),
        name: "n".to_owned(),
        at: now(),
        data: serde_json::Value::Null,
    };
    let report = Reachability {
        reachable: true,
        reason: "r".to_owned(),
        at: now(),
    };
    let stored: Vec<(&str, Vec<IndexModel>, Document)> = vec![
        (
            inbound::INBOUND,
            inbound::inbound_indexes(),
            encode("inbound", &InboundDoc::new(1, &msg, now()).expect("doc")).expect("encode"),
        ),
        (
            customers::IDENTITIES,
            customers::identity_indexes(),
            encode(
                "identity",
                &IdentityDoc::new(&conv.customer_id, &identity, now()),
            )
            .expect("encode"),
        ),
        (
            conversations::CONVERSATIONS,
            conversations::conversation_indexes(),
            stored_conversation,
        ),
        (
            transcript::TRANSCRIPT,
            transcript::transcript_indexes(),
            encode("transcript", &TranscriptDoc::new(&entry).expect("doc")).expect("encode"),
        ),
        (
            escalations::ESCALATIONS,
            escalations::escalation_indexes(),
            encode(
                "escalation",
                &EscalationDoc::new(
                    &tandem_core::store::EscalationEvent {
                        id: "esc_1".into(),
                        conversation_id: conv.id.clone(),
                        customer_id: conv.customer_id.clone(),
                        at: now(),
                        message_seq: 0,
                        escalate: true,
                        reasons: vec![],
                        category: None,
                        priority: None,
                        target: None,
                        policy_version: "v1".to_owned(),
                    },
                    4,
                    0,
                )
                .expect("doc"),
            )
            .expect("encode"),
        ),
        (outbox::OUTBOX, outbox::outbox_indexes(), stored_outbox()),
        (
            kv::KV,
            kv::kv_indexes(),
            encode("kv", &KvDoc::new("ns", "k", "v")).expect("encode"),
        ),
        (
            profiles::CUSTOMER_EVENTS,
            profiles::customer_event_indexes(),
            encode("event", &CustomerEventDoc::new(&event)).expect("encode"),
        ),
        (
            profiles::REACHABILITY,
            profiles::reachability_indexes(),
            encode(
                "reachability",
                &ReachabilityDoc::new(&ChannelId::new("tg"), "42", &report),
            )
            .expect("encode"),
        ),
    ];
    for (collection, models, doc) in &stored {
        for model in models {
            assert_names_stored_fields(collection, &model.keys, doc);
            if let Some(filter) = partial(model) {
                assert_names_stored_fields(collection, filter, doc);
            }
        }
    }

    let names: Vec<String> = crate::schema::index_plan()
        .iter()
        .flat_map(|(_, models)| models.iter())
        .map(|m| {
            m.options
                .as_ref()
                .and_then(|o| o.name.clone())
                .expect("every index is named (so that a changed definition is detected)")
        })
        .collect();
    let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
    assert_eq!(
        distinct.len(),
        names.len(),
        "index names are unique: {names:?}"
    );

    let dedupe = index(&stored[0].1, "inbound_dedupe");
    assert!(unique(dedupe));
    assert_eq!(dedupe.keys, doc! { "channel": 1, "platform_message_id": 1 });
    assert_implies_partial(
        "pending_inbound",
        &InboundDoc::pending(),
        index(&stored[0].1, "inbound_pending"),
    );
    let identities_key = index(&stored[1].1, "identities_key");
    assert!(unique(identities_key));
    assert_eq!(identities_key.keys, doc! { "channel": 1, "subject": 1 });
    let one_open = index(&stored[2].1, "conversations_one_open");
    assert!(unique(one_open));
    assert_eq!(one_open.keys, doc! { "customer_id": 1 });
    assert_implies_partial(
        "open_of",
        &ConversationDoc::open_of(&conv.customer_id),
        one_open,
    );
    let seq = index(&stored[3].1, "transcript_conversation_seq");
    assert!(unique(seq));
    assert_eq!(seq.keys, doc! { "conversation_id": 1, "seq": 1 });
    let due = index(&stored[5].1, "outbox_due");
    assert_implies_partial("claimable", &OutboxDoc::claimable(now(), &[]), due);
    assert_implies_partial("heads", &OutboxDoc::heads(), due);
    let unfinished = index(&stored[5].1, "outbox_unfinished");
    assert_implies_partial(
        "unfinished_of",
        &OutboxDoc::unfinished_of(&conv.id),
        unfinished,
    );
    assert_implies_partial("depth", &OutboxDoc::unfinished(), unfinished);
    assert!(unique(index(&stored[6].1, "kv_key")));
    assert!(unique(index(&stored[8].1, "reachability_key")));

    let ttl = kv::link_code_indexes();
    let ttl = index(&ttl, "link_codes_ttl");
    assert_eq!(ttl.keys, doc! { "expires_at": 1 });
    assert_eq!(
        ttl.options.as_ref().and_then(|o| o.expire_after),
        Some(std::time::Duration::ZERO),
        "a code expires at its expires_at"
    );
}

#[test]
fn filters_name_stored_fields() {
    let conv = conversation();
    let identity = ExternalIdentity::new(ChannelId::new("web"), "alice");
    let outbox = stored_outbox();
    let checks: Vec<(&str, Document, Document)> = vec![
        (
            "unverified",
            IdentityDoc::unverified(&identity),
            encode(
                "i",
                &IdentityDoc::new(
                    &conv.customer_id,
                    &ExternalIdentity {
                        verified_email: Some("a@x".into()),
                        ..identity.clone()
                    },
                    now(),
                ),
            )
            .expect("encode"),
        ),
        (
            "claimable",
            OutboxDoc::claimable(now(), &["x".to_owned()]),
            outbox.clone(),
        ),
        (
            "claimed",
            OutboxDoc::claimed(&OutboxId::new("out_1"), "t"),
            outbox.clone(),
        ),
        ("oldest", OutboxDoc::oldest(), outbox.clone()),
        ("due_first", OutboxDoc::due_first(), outbox.clone()),
        (
            "at_version",
            {
                let mut f = ConversationDoc::at_version(&conv.id, 4).expect("filter");
                f.remove("journal");
                f
            },
            encode("c", &ConversationDoc::from_record(&conv).expect("doc")).expect("encode"),
        ),
        (
            "newest_first",
            ConversationDoc::newest_first(),
            encode("c", &ConversationDoc::from_record(&conv).expect("doc")).expect("encode"),
        ),
        (
            "by_key",
            ReachabilityDoc::by_key(&ChannelId::new("tg"), "42"),
            encode(
                "r",
                &ReachabilityDoc::new(
                    &ChannelId::new("tg"),
                    "42",
                    &Reachability {
                        reachable: true,
                        reason: String::new(),
                        at: now(),
                    },
                ),
            )
            .expect("encode"),
        ),
    ];
    for (what, filter, stored) in &checks {
        assert_names_stored_fields(what, filter, stored);
    }
    for status in [DeliveryStatus::Delivered, DeliveryStatus::Read] {
        for target in [
            DeliveryTarget::Message {
                platform_message_id: "wamid.1".to_owned(),
            },
            DeliveryTarget::UpTo {
                recipient: "alice".to_owned(),
                watermark: now(),
            },
        ] {
            let update = DeliveryUpdate {
                channel: ChannelId::new("web"),
                target,
                status: status.clone(),
                at: now(),
            };
            let (filter, _) = OutboxDoc::reported(&update).expect("a moving report");
            assert_names_stored_fields("reported", &filter, &outbox);
        }
    }
}

#[test]
fn commit_bumps_the_version_and_handles_closing() {
    let mut conv = conversation();
    let doc = ConversationDoc::from_record(&conv).expect("doc");
    let update = doc.commit(None, None).expect("update");
    let set = update.get_document("$set").expect("$set");
    assert_eq!(set.get("version"), Some(&Bson::Int64(5)), "version + 1");
    assert!(set.get("journal").is_none());
    assert_eq!(set.get("status"), Some(&Bson::from("open")));
    assert_eq!(
        update.get_document("$unset").expect("$unset"),
        &doc! { "closed_at": "" }
    );

    conv.status = ConversationStatus::Closed;
    let doc = ConversationDoc::from_record(&conv).expect("doc");
    let earlier = DateTime::from_millis(5);
    let journal = JournalDoc {
        token: "tok".to_owned(),
        started_at: DateTime::now(),
        inbound_seq: Some(9),
        processed_at: doc.updated_at,
        entries: vec![],
        escalations: vec![],
        outbox: vec![],
    };
    let update = doc.commit(Some(earlier), Some(&journal)).expect("update");
    let set = update.get_document("$set").expect("$set");
    assert_eq!(
        set.get("closed_at"),
        Some(&Bson::DateTime(earlier)),
        "first close kept"
    );
    assert_eq!(
        set.get_document("journal").expect("journal").get("token"),
        Some(&Bson::from("tok"))
    );
    assert!(update.get("$unset").is_none());
    let update = doc.commit(None, None).expect("update");
    assert_eq!(
        update.get_document("$set").expect("$set").get("closed_at"),
        Some(&Bson::DateTime(doc.updated_at)),
        "closing in a turn stamps closed_at"
    );

    let filter = ConversationDoc::at_version(&conv.id, 4).expect("filter");
    assert_eq!(
        filter,
        doc! { "_id": "conv_1", "version": 4_i64, "journal": { "$exists": false } }
    );
}

#[test]
fn profile_updates_store_keys_and_values_literally() {
    let update = CustomerUpdate {
        display_name: Some("$name".to_owned()),
        segment: Some(None),
        attributes: BTreeMap::from([
            ("a.b".to_owned(), serde_json::json!({"$gt": 1})),
            ("$x".to_owned(), serde_json::Value::Null),
        ]),
    };
    let stages = CustomerDoc::update(&update, now()).expect("pipeline");
    assert_eq!(stages.len(), 5, "{stages:?}");
    assert_eq!(
        stages[0],
        doc! { "$set": { "display_name": { "$literal": "$name" } } }
    );
    assert_eq!(
        stages[1],
        doc! { "$set": { "segment": { "$literal": Bson::Null } } }
    );
    // BTreeMap order: "$x" before "a.b".
    assert_eq!(
        stages[2],
        doc! { "$set": { "attributes": { "$unsetField": {
            "field": { "$literal": "$x" },
            "input": { "$ifNull": [ "$attributes", {} ] },
        } } } }
    );
    assert_eq!(
        stages[3],
        doc! { "$set": { "attributes": { "$setField": {
            "field": { "$literal": "a.b" },
            "input": { "$ifNull": [ "$attributes", {} ] },
            "value": { "$literal": { "$gt": 1_i64 } },
        } } } }
    );
    assert!(
        stages[4]
            .get_document("$set")
            .expect("$set")
            .contains_key("updated_at")
    );
    let keep = CustomerDoc::update(&CustomerUpdate::default(), now()).expect("pipeline");
    assert_eq!(keep.len(), 1, "an empty update only touches updated_at");
}

#[test]
fn outbox_updates_keep_the_head_rule() {
    let expires = DateTime::from_millis(1_000);
    let claim = OutboxDoc::claim("tok", expires);
    let set = claim.get_document("$set").expect("$set");
    assert_eq!(
        set.get("due_at"),
        Some(&Bson::DateTime(expires)),
        "a claim moves due_at past now"
    );
    assert_eq!(set.get("claim_expires_at"), Some(&Bson::DateTime(expires)));
    assert_eq!(set.get("status"), Some(&Bson::from("in_flight")));
    assert_eq!(
        claim.get_document("$inc").expect("$inc"),
        &doc! { "attempts": 1_i64 }
    );

    let delivery = Delivery {
        platform_message_id: Some("wamid.1".to_owned()),
        state: DeliveryState::Delivered,
    };
    for finish in [
        OutboxDoc::complete(&delivery, now()),
        OutboxDoc::fail("gone", now()),
    ] {
        let set = finish.get_document("$set").expect("$set");
        assert_eq!(set.get("unfinished"), Some(&Bson::Boolean(false)));
        assert_eq!(
            set.get("head"),
            Some(&Bson::Boolean(false)),
            "a finished entry is no head"
        );
        let unset = finish.get_document("$unset").expect("$unset");
        for field in ["claim", "claim_expires_at", "due_at"] {
            assert!(unset.contains_key(field), "{field} is cleared");
        }
    }
    let complete = OutboxDoc::complete(&delivery, now());
    assert_eq!(
        complete
            .get_document("$set")
            .expect("$set")
            .get("delivery_state"),
        Some(&Bson::from("delivered"))
    );
    let retry = OutboxDoc::retry(now(), "503");
    let set = retry.get_document("$set").expect("$set");
    assert!(
        set.get("head").is_none(),
        "a retried entry stays its conversation's head"
    );
    assert_eq!(set.get("due_at"), set.get("next_attempt_at"));
    for state in [
        DeliveryState::Sent,
        DeliveryState::Stored,
        DeliveryState::Delivered,
        DeliveryState::Read,
    ] {
        assert_eq!(
            Bson::from(outbox::delivery_state_name(state)),
            bson::serialize_to_bson(&state).expect("serde name"),
            "stored names are the serde names"
        );
    }
}

#[test]
fn delivery_reports_move_forward_only() {
    let report = |target, status| DeliveryUpdate {
        channel: ChannelId::new("whatsapp"),
        target,
        status,
        at: now(),
    };
    let message = || DeliveryTarget::Message {
        platform_message_id: "wamid.1".to_owned(),
    };
    let up_to = || DeliveryTarget::UpTo {
        recipient: "psid".to_owned(),
        watermark: now(),
    };
    let failed = DeliveryStatus::Failed {
        kind: FailureKind::Unreachable,
        code: None,
        reason: "blocked".to_owned(),
    };
    assert!(OutboxDoc::reported(&report(message(), DeliveryStatus::Sent)).is_none());
    assert!(OutboxDoc::reported(&report(up_to(), failed.clone())).is_none());

    let (filter, update) =
        OutboxDoc::reported(&report(message(), DeliveryStatus::Delivered)).expect("moves");
    assert_eq!(
        filter.get("status"),
        Some(&Bson::from("sent")),
        "only sent entries"
    );
    assert_eq!(
        filter.get("delivery_state"),
        Some(&Bson::Document(
            doc! { "$in": [Bson::Null, "sent", "stored"] }
        ))
    );
    assert_eq!(update, doc! { "$set": { "delivery_state": "delivered" } });

    let (filter, update) =
        OutboxDoc::reported(&report(up_to(), DeliveryStatus::Read)).expect("moves");
    assert_eq!(filter.get("message.recipient"), Some(&Bson::from("psid")));
    assert!(
        filter
            .get_document("finished_at")
            .expect("watermark")
            .contains_key("$lte")
    );
    assert_eq!(
        filter.get("delivery_state"),
        Some(&Bson::Document(doc! { "$ne": "read" }))
    );
    assert_eq!(update, doc! { "$set": { "delivery_state": "read" } });

    let (_, update) = OutboxDoc::reported(&report(message(), failed)).expect("moves");
    assert_eq!(
        update,
        doc! { "$set": { "status": "failed", "last_error": "undeliverable: unreachable (blocked)" } }
    );
}

#[test]
fn reachability_upsert_applies_only_newer_reports() {
    let at = now();
    let (filter, update) = ReachabilityDoc::upsert_if_newer(
        &ChannelId::new("telegram"),
        "42",
        &Reachability {
            reachable: false,
            reason: "telegram:blocked".to_owned(),
            at,
        },
    );
    assert_eq!(
        filter,
        doc! { "channel": "telegram", "subject": "42", "at": { "$lte": to_datetime(at) } }
    );
    let set = update.get_document("$set").expect("$set");
    assert_eq!(
        set.get("schema_version"),
        Some(&Bson::Int32(SCHEMA_VERSION))
    );
    assert_eq!(set.get("at"), Some(&Bson::DateTime(to_datetime(at))));
}

#[test]
fn collision_filters_cover_ids_and_sequence_numbers() {
    let conv = conversation();
    let entries: Vec<TranscriptDoc> = (3..5)
        .map(|seq| {
            TranscriptDoc::new(&TranscriptEntry {
                id: MessageId::new(format!("msg_{seq}")),
                conversation_id: conv.id.clone(),
                customer_id: conv.customer_id.clone(),
                seq,
                from: Party::Bot,
                channel: conv.channel.clone(),
                at: now(),
                content: Content::Text {
                    text: "x".to_owned(),
                },
                buttons: vec![],
                platform_message_id: None,
            })
            .expect("doc")
        })
        .collect();
    assert_eq!(
        TranscriptDoc::collisions(&entries),
        doc! { "$or": [
            { "_id": { "$in": ["msg_3", "msg_4"] } },
            { "conversation_id": "conv_1", "seq": 3_i64 },
            { "conversation_id": "conv_1", "seq": 4_i64 },
        ] }
    );
    assert_eq!(
        KvDoc::by_key("telegram", "offset"),
        doc! { "namespace": "telegram", "key": "offset" }
    );
    assert_eq!(
        KvDoc::set("42"),
        doc! { "$set": { "value": "42", "schema_version": SCHEMA_VERSION } }
    );
}
