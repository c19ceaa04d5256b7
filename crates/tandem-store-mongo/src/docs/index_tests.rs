//! Tests of the index models: every indexed field exists in the stored documents, the
//! constraints (unique, partial, TTL) are the intended ones, and the queries meant to use
//! a partial index repeat its filter. No server.

use super::conversations::{self, ConversationDoc, JournalDoc};
use super::customers::{self, IdentityDoc};
use super::escalations::{self, EscalationDoc};
use super::inbound::{self, InboundDoc};
use super::kv::{self, KvDoc};
use super::outbox::{self, OutboxDoc};
use super::profiles::{self, CustomerEventDoc, ReachabilityDoc};
use super::query_tests::{assert_names_stored_fields, conversation, stored_outbox};
use super::transcript::{self, TranscriptDoc};
use super::*;
use bson::doc;
use mongodb::IndexModel;
use tandem_core::store::CustomerEvent;
use tandem_model::{
    ChannelId, Content, ExternalIdentity, InboundMessage, MessageId, Party, PlatformMessageId,
    Reachability, TranscriptEntry, now,
};

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
            timers: vec![],
            ai_audit: vec![],
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
        verified_phone: Some("+15550100".to_owned()),
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
    let per_destination = index(&stored[5].1, "outbox_unfinished_destination");
    assert_eq!(
        per_destination.keys,
        doc! { "conversation_id": 1, "message.channel": 1, "ord": 1 }
    );
    assert_implies_partial(
        "unfinished_of",
        &OutboxDoc::unfinished_of(&conv.id, "web"),
        per_destination,
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
