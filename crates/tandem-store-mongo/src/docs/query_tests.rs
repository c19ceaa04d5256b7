//! Tests of the filters and updates the documents module builds: every field a filter
//! names exists in the stored document, and the updates have the shapes the crate docs
//! describe (version bumps, the outbox head rule, literal profile updates, forward-only
//! delivery reports). No server.

use super::conversations::{ConversationDoc, JournalDoc};
use super::customers::{CustomerDoc, IdentityDoc};
use super::kv::KvDoc;
use super::outbox::{self, OutboxDoc};
use super::profiles::ReachabilityDoc;
use super::transcript::TranscriptDoc;
use super::*;
use bson::{Bson, doc};
use std::collections::BTreeMap;
use tandem_core::store::{
    ConversationRecord, ConversationState, ConversationStatus, CustomerUpdate, NewOutboxEntry,
};
use tandem_model::{
    ChannelId, Content, ConversationId, CustomerId, Delivery, DeliveryState, DeliveryStatus,
    DeliveryTarget, DeliveryUpdate, ExternalIdentity, FailureKind, MessageId, OutboundContent,
    OutboundMessage, OutboxId, Party, Reachability, TranscriptEntry, now,
};

/// Whether `path` (dotted) names a field of `doc`.
pub(super) fn has_path(doc: &Document, path: &str) -> bool {
    match path.split_once('.') {
        None => doc.contains_key(path),
        Some((head, rest)) => match doc.get(head) {
            Some(Bson::Document(inner)) => has_path(inner, rest),
            _ => false,
        },
    }
}

/// Asserts that every field a filter names (outside operators) exists in `stored`.
pub(super) fn assert_names_stored_fields(what: &str, filter: &Document, stored: &Document) {
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

pub(super) fn conversation() -> ConversationRecord {
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

pub(super) fn stored_outbox() -> Document {
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
        timers: vec![],
        ai_audit: vec![],
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
        doc! { "$set": { "attributes": { "$setField": {
            "field": { "$literal": "$x" },
            "input": { "$ifNull": [ "$attributes", {} ] },
            "value": "$$REMOVE",
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
