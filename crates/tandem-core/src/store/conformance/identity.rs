//! Conformance scenarios for the verified identity graph
//! ([`Identities::resolve_customer`](crate::store::Identities::resolve_customer) merges,
//! [`Identities::merge_customers`](crate::store::Identities::merge_customers),
//! [`Identities::unmerge`](crate::store::Identities::unmerge),
//! [`Identities::link_identity`](crate::store::Identities::link_identity),
//! [`Identities::unlink_identity`](crate::store::Identities::unlink_identity),
//! [`Identities::identity_audit`](crate::store::Identities::identity_audit),
//! [`Identities::suggest_link`](crate::store::Identities::suggest_link) and
//! [`Identities::erase_customer`](crate::store::Identities::erase_customer)).

use super::{Must, push_entry, reload, secs, sms, text, turn_of, web};
use crate::store::{
    AuditKind, ConversationStatus, CustomerEvent, DynStore, ERASED_TEXT, KeyKind, MergeTrigger,
    StoreError, VerifiedKey,
};
use std::collections::BTreeSet;
use tandem_model::{ChannelId, Content, ConversationId, CustomerId, ExternalIdentity, Party, now};

fn whatsapp() -> ChannelId {
    ChannelId::new("whatsapp")
}

fn with_email(channel: ChannelId, subject: &str, email: &str) -> ExternalIdentity {
    let mut identity = ExternalIdentity::new(channel, subject);
    identity.verified = true;
    identity.verified_email = Some(email.to_owned());
    identity
}

fn with_phone(channel: ChannelId, subject: &str, phone: &str) -> ExternalIdentity {
    let mut identity = ExternalIdentity::new(channel, subject);
    identity.verified_phone = Some(phone.to_owned());
    identity
}

fn keys_of(identities: &[crate::store::IdentityRecord]) -> BTreeSet<(String, String)> {
    identities
        .iter()
        .map(|i| (i.channel.as_str().to_owned(), i.subject.clone()))
        .collect()
}

async fn conversation_ids(store: &DynStore, customer: &CustomerId) -> BTreeSet<ConversationId> {
    store
        .conversations_of(customer, 100)
        .await
        .must("conversations_of")
        .into_iter()
        .map(|c| c.id)
        .collect()
}

/// Opens `customer`'s conversation on `channel` and commits one customer message.
async fn say(
    store: &DynStore,
    customer: &CustomerId,
    channel: &ChannelId,
    body: &str,
) -> ConversationId {
    let conv = store
        .open_conversation(customer, channel, now())
        .await
        .must("open_conversation");
    let mut turn = turn_of(&reload(store, &conv.id).await);
    push_entry(&mut turn, Party::Customer, text(body));
    store.commit_turn(turn).await.must("commit_turn");
    conv.id
}

/// A new identity carrying a verified email or phone another customer holds joins that
/// customer; the facts are stored normalized with source `platform`; no key, no join.
pub async fn verified_key_joins_new_identity(store: DynStore) {
    let t0 = now();
    let a = store
        .resolve_customer(&with_email(web(), "user:1", " E@X.org "), t0)
        .await
        .must("resolve_customer");
    let b = store
        .resolve_customer(&with_email(whatsapp(), "1555", "e@x.ORG"), t0 + secs(1))
        .await
        .must("resolve_customer");
    assert_eq!(b.id, a.id, "a verified email held by a customer joins it");
    let identities = store.identities(&a.id).await.must("identities");
    assert_eq!(identities.len(), 2, "{identities:?}");
    for i in &identities {
        assert_eq!(
            i.verified_email.as_deref(),
            Some("e@x.org"),
            "stored normalized: {i:?}"
        );
        assert_eq!(i.source, "platform");
    }
    let by_email = store
        .customers_by_email("E@x.org")
        .await
        .must("customers_by_email");
    assert_eq!(by_email.len(), 1);

    let p1 = store
        .resolve_customer(
            &with_phone(whatsapp(), "15550100999", "+1 555 0100 999"),
            t0,
        )
        .await
        .must("resolve_customer");
    let p2 = store
        .resolve_customer(&with_phone(sms(), "sms-1", "15550100999"), t0 + secs(1))
        .await
        .must("resolve_customer");
    assert_eq!(p2.id, p1.id, "a verified phone held by a customer joins it");
    let phones = store.identities(&p1.id).await.must("identities");
    assert!(
        phones
            .iter()
            .all(|i| i.verified_phone.as_deref() == Some("+15550100999")),
        "{phones:?}"
    );

    let plain = store
        .resolve_customer(&ExternalIdentity::new(sms(), "someone"), t0)
        .await
        .must("resolve_customer");
    assert_ne!(plain.id, a.id);
    assert_ne!(plain.id, p1.id);
    assert!(
        store
            .identity_audit(&a.id)
            .await
            .must("identity_audit")
            .is_empty(),
        "joining is not a merge"
    );
}

/// An existing identity that newly carries a key held by another customer merges the two:
/// the older survives, identities and conversations move, the merged customer's open
/// conversation closes, and the merge is in both customers' audit trail.
pub async fn verified_key_merges_existing_customers(store: DynStore) {
    let t0 = now();
    let alice = ExternalIdentity::new(web(), "alice");
    let a = store
        .resolve_customer(&alice, t0)
        .await
        .must("resolve_customer");
    let b = store
        .resolve_customer(
            &with_email(sms(), "sms-alice", "alice@example.org"),
            t0 + secs(1),
        )
        .await
        .must("resolve_customer");
    assert_ne!(a.id, b.id);
    let conv_a = say(&store, &a.id, &web(), "hello from web").await;
    let conv_b = say(&store, &b.id, &sms(), "hello from sms").await;

    let merged = store
        .resolve_customer(
            &with_email(web(), "alice", "Alice@Example.org"),
            t0 + secs(5),
        )
        .await
        .must("resolve_customer");
    assert_eq!(merged.id, a.id, "the older customer survives");
    assert_eq!(
        keys_of(&store.identities(&a.id).await.must("identities")),
        [
            ("sms".to_owned(), "sms-alice".to_owned()),
            ("web".to_owned(), "alice".to_owned())
        ]
        .into(),
    );
    assert!(store.identities(&b.id).await.must("identities").is_empty());
    assert_eq!(
        conversation_ids(&store, &a.id).await,
        [conv_a.clone(), conv_b.clone()].into()
    );
    assert_eq!(
        reload(&store, &conv_a).await.status,
        ConversationStatus::Open
    );
    assert_eq!(
        reload(&store, &conv_b).await.status,
        ConversationStatus::Closed,
        "the merged customer's open conversation closes (one open per customer)"
    );
    let owner = store
        .customer_by_identity(&sms(), "sms-alice")
        .await
        .must("customer_by_identity")
        .expect("identity owner");
    assert_eq!(owner.id, a.id);
    for customer in [&a.id, &b.id] {
        let audit = store.identity_audit(customer).await.must("identity_audit");
        assert_eq!(audit.len(), 1, "{audit:?}");
        let e = &audit[0];
        assert_eq!(e.kind, AuditKind::Merge);
        assert_eq!(e.customer_id, a.id);
        assert_eq!(e.other_customer_id.as_ref(), Some(&b.id));
        assert_eq!(e.actor, "verified_key");
        assert_eq!(e.detail["trigger"]["key"]["value"], "alice@example.org");
        assert_eq!(e.detail["trigger"]["source"], "web/alice");
    }
}

/// Unverified claims never merge: a suggested link is recorded once, listed for both.
pub async fn unverified_claims_only_suggest(store: DynStore) {
    let t0 = now();
    let a = store
        .resolve_customer(&with_email(web(), "user:a", "a@example.org"), t0)
        .await
        .must("resolve_customer");
    let b = store
        .resolve_customer(&ExternalIdentity::new(sms(), "b"), t0)
        .await
        .must("resolve_customer");
    let key = VerifiedKey::email("A@example.org").expect("email key");
    let s = store
        .suggest_link(&b.id, &key, t0 + secs(1))
        .await
        .must("suggest_link")
        .expect("a suggestion");
    assert_eq!(s.customer_id, b.id);
    assert_eq!(s.other_customer_id, a.id);
    assert_eq!(s.reason, "unverified_claim");
    store
        .suggest_link(&b.id, &key, t0 + secs(2))
        .await
        .must("suggest_link");
    assert_eq!(
        store.suggested_links(&a.id).await.must("suggested_links"),
        vec![s.clone()]
    );
    assert_eq!(
        store.suggested_links(&b.id).await.must("suggested_links"),
        vec![s]
    );
    assert!(
        store.identities(&b.id).await.must("identities").len() == 1,
        "nothing merged"
    );
    let unknown = VerifiedKey::phone("+4915112345678").expect("phone key");
    assert_eq!(
        store
            .suggest_link(&b.id, &unknown, t0)
            .await
            .must("suggest_link"),
        None
    );
}

/// Facts typed in a message ([`crate::claims::claimed_keys`]) that another customer holds
/// verified become one suggestion per key however often they are claimed; a customer's
/// own fact suggests nothing; nobody is merged.
pub async fn claimed_facts_suggest_once_and_never_merge(store: DynStore) {
    let t0 = now();
    let mut verified = with_email(web(), "user:ada", "ada@example.org");
    verified.verified_phone = Some("+4915112345678".into());
    let a = store
        .resolve_customer(&verified, t0)
        .await
        .must("resolve_customer");
    let b = store
        .resolve_customer(&ExternalIdentity::new(sms(), "anon"), t0)
        .await
        .must("resolve_customer");
    let said = [
        "my email is ADA@example.org",
        "again: ada@example.org, and call +49 151 1234 5678",
        "ada@example.org +4915112345678",
    ];
    for (i, text) in said.iter().enumerate() {
        for key in crate::claims::claimed_keys(text) {
            store
                .suggest_link(&b.id, &key, t0 + secs(i as u64 + 1))
                .await
                .must("suggest_link")
                .expect("another customer holds the key");
        }
    }
    let links = store.suggested_links(&b.id).await.must("suggested_links");
    let mut kinds: Vec<KeyKind> = links.iter().map(|l| l.key.kind).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [KeyKind::Email, KeyKind::Phone],
        "one per key: {links:?}"
    );
    for l in &links {
        assert_eq!((&l.customer_id, &l.other_customer_id), (&b.id, &a.id));
        assert_eq!(l.reason, "unverified_claim");
        // The first claim of each key is the one kept (email first said, then the phone).
        let first = if l.key.kind == KeyKind::Email { 1 } else { 2 };
        assert_eq!(l.at, t0 + secs(first), "first suggestion kept: {l:?}");
    }
    assert_eq!(
        store.suggested_links(&a.id).await.must("suggested_links"),
        links
    );
    for key in crate::claims::claimed_keys("I am ada@example.org") {
        assert_eq!(
            store
                .suggest_link(&a.id, &key, t0)
                .await
                .must("suggest_link"),
            None,
            "a customer's own fact suggests nothing"
        );
    }
    assert_eq!(store.identities(&a.id).await.must("identities").len(), 1);
    assert_eq!(store.identities(&b.id).await.must("identities").len(), 1);
    assert_eq!(
        store
            .customer_by_identity(&sms(), "anon")
            .await
            .must("customer_by_identity")
            .map(|c| c.id),
        Some(b.id),
        "never merged"
    );
}

/// Merge then unmerge restores identities and conversations exactly (the closed one
/// reopened); both are audited; the pair is not merged again automatically.
pub async fn merge_then_unmerge_restores(store: DynStore) {
    let t0 = now();
    let a = store
        .resolve_customer(&ExternalIdentity::new(web(), "ann"), t0)
        .await
        .must("resolve_customer");
    let b = store
        .resolve_customer(
            &with_email(sms(), "ann-sms", "ann@example.org"),
            t0 + secs(1),
        )
        .await
        .must("resolve_customer");
    let conv_a = say(&store, &a.id, &web(), "web words").await;
    let conv_b = say(&store, &b.id, &sms(), "sms words").await;
    let before_a = store.identities(&a.id).await.must("identities");
    let before_b = store.identities(&b.id).await.must("identities");
    let transcript_b = store.transcript(&conv_b, 100).await.must("transcript");
    let conv_b_before = reload(&store, &conv_b).await;

    let trigger = MergeTrigger {
        actor: "admin".into(),
        key: None,
        source: "test".into(),
    };
    assert!(matches!(
        store.merge_customers(&a.id, &a.id, &trigger, t0).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .merge_customers(&a.id, &CustomerId::new("cus_unknown"), &trigger, t0)
            .await
            .must("merge_customers"),
        None
    );
    let merge = store
        .merge_customers(&a.id, &b.id, &trigger, t0 + secs(2))
        .await
        .must("merge_customers")
        .expect("both exist");
    assert_eq!(merge.survivor, a.id);
    assert_eq!(merge.closed_conversation.as_ref(), Some(&conv_b));
    assert_eq!(store.identities(&a.id).await.must("identities").len(), 2);
    assert!(
        matches!(
            store.merge_customers(&a.id, &b.id, &trigger, t0).await,
            Err(StoreError::Conflict(_))
        ),
        "a customer merged away cannot be merged again"
    );

    let undone = store
        .unmerge(&merge.id, t0 + secs(3))
        .await
        .must("unmerge")
        .expect("merge exists");
    assert_eq!(undone.unmerged_at, Some(t0 + secs(3)));
    assert_eq!(store.identities(&a.id).await.must("identities"), before_a);
    assert_eq!(store.identities(&b.id).await.must("identities"), before_b);
    assert_eq!(
        conversation_ids(&store, &a.id).await,
        [conv_a.clone()].into()
    );
    assert_eq!(
        conversation_ids(&store, &b.id).await,
        [conv_b.clone()].into()
    );
    let reopened = reload(&store, &conv_b).await;
    assert_eq!(
        reopened.status,
        ConversationStatus::Open,
        "the conversation the merge closed reopens"
    );
    assert_eq!(reopened.customer_id, b.id);
    assert_eq!(reopened.updated_at, conv_b_before.updated_at);
    assert_eq!(
        store
            .transcript(&conv_b, 100)
            .await
            .must("transcript")
            .len(),
        transcript_b.len()
    );
    assert!(matches!(
        store.unmerge(&merge.id, t0).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.unmerge("mrg_unknown", t0).await.must("unmerge"), None);
    for customer in [&a.id, &b.id] {
        let kinds: Vec<AuditKind> = store
            .identity_audit(customer)
            .await
            .must("identity_audit")
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, vec![AuditKind::Merge, AuditKind::Unmerge]);
    }

    // The same verified key seen again on the survivor: suggested, not merged.
    let again = store
        .resolve_customer(&with_email(web(), "ann", "ann@example.org"), t0 + secs(4))
        .await
        .must("resolve_customer");
    assert_eq!(again.id, a.id);
    assert_eq!(store.identities(&b.id).await.must("identities"), before_b);
    let links = store.suggested_links(&a.id).await.must("suggested_links");
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].reason, "unmerged_before");
    assert_eq!(links[0].key.kind, KeyKind::Email);
}

/// An admin-linked identity is verified with its source, its verified phone joins later
/// identities; a taken identity conflicts; unlink moves one identity to a new customer.
pub async fn link_and_unlink_identity(store: DynStore) {
    let t0 = now();
    let a = store
        .resolve_customer(&ExternalIdentity::new(web(), "carol"), t0)
        .await
        .must("resolve_customer");
    let crm = with_phone(ChannelId::new("crm"), "C-42", "+44 20 7946 0000");
    assert_eq!(
        store
            .link_identity(&CustomerId::new("cus_unknown"), &crm, "admin", t0)
            .await
            .must("link_identity"),
        None
    );
    let linked = store
        .link_identity(&a.id, &crm, "admin", t0 + secs(1))
        .await
        .must("link_identity")
        .expect("customer exists");
    assert!(linked.verified);
    assert_eq!(linked.source, "admin");
    assert_eq!(linked.verified_phone.as_deref(), Some("+442079460000"));
    let wa = store
        .resolve_customer(
            &with_phone(whatsapp(), "442079460000", "+442079460000"),
            t0 + secs(2),
        )
        .await
        .must("resolve_customer");
    assert_eq!(
        wa.id, a.id,
        "the CRM's verified phone joins the WhatsApp identity"
    );

    let other = store
        .resolve_customer(&ExternalIdentity::new(sms(), "dave"), t0)
        .await
        .must("resolve_customer");
    assert!(matches!(
        store.link_identity(&other.id, &crm, "admin", t0).await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(
        store
            .unlink_identity(&other.id, &whatsapp(), "442079460000", t0)
            .await
            .must("unlink_identity"),
        None,
        "only the owner can unlink"
    );
    let split = store
        .unlink_identity(&a.id, &whatsapp(), "442079460000", t0 + secs(3))
        .await
        .must("unlink_identity")
        .expect("owned identity");
    assert_ne!(split.id, a.id);
    assert_eq!(
        keys_of(&store.identities(&split.id).await.must("identities")),
        [("whatsapp".to_owned(), "442079460000".to_owned())].into()
    );
    // Its next message does not merge it back.
    let next = store
        .resolve_customer(
            &with_phone(whatsapp(), "442079460000", "+442079460000"),
            t0 + secs(4),
        )
        .await
        .must("resolve_customer");
    assert_eq!(
        next.id, split.id,
        "an unlinked identity is not merged back automatically"
    );
    let kinds: Vec<AuditKind> = store
        .identity_audit(&a.id)
        .await
        .must("identity_audit")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![AuditKind::Link, AuditKind::Unlink]);
}

/// Concurrent resolutions of identities on different channels carrying one verified email
/// end with one customer.
pub async fn concurrent_verified_key_resolution(store: DynStore) {
    let t = now();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let channel = ChannelId::new(format!("channel-{i}"));
                store
                    .resolve_customer(&with_email(channel, "same-person", "same@example.org"), t)
                    .await
                    .must("resolve_customer")
                    .id
            })
        })
        .collect();
    let mut returned = BTreeSet::new();
    for task in tasks {
        returned.insert(task.await.expect("resolver panicked"));
    }
    let mut owners = BTreeSet::new();
    for i in 0..8 {
        let owner = store
            .customer_by_identity(&ChannelId::new(format!("channel-{i}")), "same-person")
            .await
            .must("customer_by_identity")
            .expect("identity stored");
        owners.insert(owner.id);
    }
    assert_eq!(
        owners.len(),
        1,
        "one verified person, one customer: {owners:?}"
    );
    assert!(
        owners.is_superset(&returned) || returned.len() == 1,
        "{returned:?} vs {owners:?}"
    );
    let id = owners.into_iter().next().expect("one owner");
    assert_eq!(store.identities(&id).await.must("identities").len(), 8);
}

/// Erasure removes the personal data and keeps ids and counts.
pub async fn erase_customer_removes_personal_data(store: DynStore) {
    let t0 = now();
    let mut identity = with_email(web(), "user:erin", "erin@example.org");
    identity.display_name = Some("Erin Secret".into());
    let c = store
        .resolve_customer(&identity, t0)
        .await
        .must("resolve_customer");
    let conv = store
        .open_conversation(&c.id, &web(), t0)
        .await
        .must("open_conversation");
    let mut turn = turn_of(&reload(&store, &conv.id).await);
    turn.conversation
        .state
        .slots
        .insert("order_number".into(), "99887766".into());
    push_entry(
        &mut turn,
        Party::Customer,
        text("my address is 1 Secret Lane"),
    );
    turn.escalations.push(super::escalation(
        &turn.conversation,
        vec![super::reason("keyword", "refund")],
    ));
    store.commit_turn(turn).await.must("commit_turn");
    let event = CustomerEvent {
        id: "evt-erase-1".into(),
        customer_id: c.id.clone(),
        name: "payment_failed".into(),
        at: t0,
        data: serde_json::json!({"card_holder": "Erin Secret"}),
    };
    store
        .record_customer_event(&event)
        .await
        .must("record_customer_event");
    let counts = store.escalation_counts().await.must("escalation_counts");

    assert_eq!(
        store
            .erase_customer(&CustomerId::new("cus_unknown"), t0)
            .await
            .must("erase_customer"),
        None
    );
    let report = store
        .erase_customer(&c.id, t0 + secs(1))
        .await
        .must("erase_customer")
        .expect("customer exists");
    assert_eq!(report.identities, 1);
    assert_eq!(report.conversations, 1);
    assert_eq!(report.transcript_entries, 1);
    let erased = store
        .customer(&c.id)
        .await
        .must("customer")
        .expect("the id stays");
    assert_eq!(erased.display_name, None);
    assert!(store.identities(&c.id).await.must("identities").is_empty());
    assert_eq!(
        store
            .customer_by_identity(&web(), "user:erin")
            .await
            .must("lookup"),
        None
    );
    assert!(
        store
            .customers_by_email("erin@example.org")
            .await
            .must("by email")
            .is_empty()
    );
    let entries = store.transcript(&conv.id, 10).await.must("transcript");
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].content,
        Content::Text {
            text: ERASED_TEXT.into()
        }
    );
    assert!(reload(&store, &conv.id).await.state.slots.is_empty());
    let events = store
        .customer_events(&c.id, t0)
        .await
        .must("customer_events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, serde_json::Value::Null);
    assert_eq!(
        store.escalation_counts().await.must("escalation_counts"),
        counts,
        "counts stay"
    );
    assert_eq!(
        store.escalations(&conv.id).await.must("escalations").len(),
        1
    );
    let audit = store.identity_audit(&c.id).await.must("identity_audit");
    assert_eq!(audit.last().map(|e| e.kind), Some(AuditKind::Erase));
    let detail = serde_json::to_string(&audit).unwrap_or_default();
    assert!(
        !detail.contains("erin"),
        "no personal data in the audit trail: {detail}"
    );
}

/// Link codes: issued for known customers only, at most `max_active` active at once,
/// redeemed once, never after expiry, unique.
pub async fn link_codes_are_single_use_expiring_and_limited(store: DynStore) {
    use crate::store::{LinkCode, LinkCodeIssue, LinkCodeRedemption};
    let t0 = now();
    let c = store
        .resolve_customer(&ExternalIdentity::new(web(), "user:linker"), t0)
        .await
        .must("resolve_customer");
    let code = |code: &str, customer: &CustomerId, at| LinkCode {
        code: code.into(),
        customer_id: customer.clone(),
        created_at: at,
        expires_at: at + secs(600),
    };
    assert_eq!(
        store
            .create_link_code(&code("NOBODY", &CustomerId::new("cus_unknown"), t0), 5)
            .await
            .must("create_link_code"),
        LinkCodeIssue::UnknownCustomer
    );
    assert_eq!(
        store
            .create_link_code(&code("ABC234", &c.id, t0), 2)
            .await
            .must("create_link_code"),
        LinkCodeIssue::Issued
    );
    assert!(
        matches!(
            store.create_link_code(&code("ABC234", &c.id, t0), 5).await,
            Err(StoreError::Conflict(_))
        ),
        "a code is unique"
    );
    assert_eq!(
        store
            .create_link_code(&code("DEF567", &c.id, t0), 2)
            .await
            .must("create_link_code"),
        LinkCodeIssue::Issued
    );
    assert_eq!(
        store
            .create_link_code(&code("GHJ789", &c.id, t0), 2)
            .await
            .must("create_link_code"),
        LinkCodeIssue::TooMany,
        "two active codes is the limit here"
    );

    assert_eq!(
        store
            .redeem_link_code("ABC234", "telegram/42", t0 + secs(5))
            .await
            .must("redeem_link_code"),
        LinkCodeRedemption::Redeemed(c.id.clone())
    );
    assert_eq!(
        store
            .redeem_link_code("ABC234", "whatsapp/15550001", t0 + secs(6))
            .await
            .must("redeem_link_code"),
        LinkCodeRedemption::AlreadyUsed(c.id.clone()),
        "single use"
    );
    assert_eq!(
        store
            .redeem_link_code("ABC234", "telegram/42", t0 + secs(900))
            .await
            .must("redeem_link_code"),
        LinkCodeRedemption::Redeemed(c.id.clone()),
        "the same redeemer again (a retry after a crash) gets the same answer, even after expiry"
    );
    assert_eq!(
        store
            .redeem_link_code("ZZZ999", "telegram/42", t0 + secs(6))
            .await
            .must("redeem_link_code"),
        LinkCodeRedemption::Unknown
    );
    // A used code no longer counts against the limit.
    assert_eq!(
        store
            .create_link_code(&code("GHJ789", &c.id, t0 + secs(7)), 2)
            .await
            .must("create_link_code"),
        LinkCodeIssue::Issued
    );
    // Expired: not redeemable (a store may also have removed it: unknown).
    let late = store
        .redeem_link_code("DEF567", "telegram/42", t0 + secs(601))
        .await
        .must("redeem_link_code");
    assert!(
        matches!(
            late,
            LinkCodeRedemption::Expired | LinkCodeRedemption::Unknown
        ),
        "{late:?}"
    );
    // Used, then expired: still reads as used (that is what the customer needs to hear),
    // unless the store removed it.
    let used_late = store
        .redeem_link_code("ABC234", "whatsapp/15550001", t0 + secs(601))
        .await
        .must("redeem_link_code");
    assert!(
        matches!(&used_late, LinkCodeRedemption::AlreadyUsed(who) if *who == c.id)
            || used_late == LinkCodeRedemption::Unknown,
        "{used_late:?}"
    );
}
