//! Customers on MongoDB: the verified identity graph (resolution with deterministic
//! merges, merge and unmerge, link and unlink, the audit trail, suggested links and the
//! GDPR erasure), profile lookups and updates, business events, and link codes.
//!
//! **Keys.** A verified key is a `verified_keys` document whose `_id` is the key, so the
//! `_id` index decides which customer holds it: of two concurrent resolutions carrying one
//! key, one inserts the key and the other gets a duplicate key and merges its fresh
//! customer into the holder (or the holder into it, the older survives), ending with one
//! customer.
//!
//! **Merges** follow the crate's journal pattern (no transaction needed): the merged
//! customer is claimed with one conditional update (`merged_into` absent), the merge's
//! audit entry is inserted with `applied: false` listing exactly what moves, the moves are
//! idempotent `update_many`s, and `applied` becomes true. A process that dies in between
//! leaves an unapplied entry that [`finish_merges`] (run by maintenance) applies.
//! Unmerge claims the merge with one conditional update (`unmerged_at` absent) and moves
//! the listed identities and conversations back.
//!
//! Not atomic on MongoDB (documented in the crate docs): readers may see a merge half
//! applied; and two merges racing on the same customers can leave an identity on a
//! merged-away customer, which the next resolution of that identity follows to the
//! survivor.
//!
//! **Link codes** (`link_codes`): `_id` is the code, the TTL index on `expires_at` removes
//! expired ones (they then read as unknown). Redemption is one atomic `findOneAndUpdate`,
//! so a code is used once. The active-code limit is a count before the insert: two
//! concurrent issues for one customer can exceed it by one (acceptable for a rate limit;
//! no transaction needed).

use crate::MongoStore;
use crate::docs::ai_audit::AiAuditDoc;
use crate::docs::conversations::ConversationDoc;
use crate::docs::customers::{CustomerDoc, IdentityDoc, fold_email, verified_email};
use crate::docs::graph::{AuditDoc, SuggestedLinkDoc, VerifiedKeyDoc};
use crate::docs::profiles::CustomerEventDoc;
use crate::docs::{collect, decode, encode, id_only, to_datetime};
use crate::error::{RACE_RETRIES, classify, is_duplicate_key};
use crate::schema::Collections;
use async_trait::async_trait;
use bson::{Bson, DateTime, Document, doc};
use futures::TryStreamExt;
use mongodb::options::ReturnDocument;
use std::collections::BTreeSet;
use tandem_core::store::{
    AuditEntry, AuditKind, ConversationState, CustomerEvent, CustomerRecord, CustomerUpdate,
    ERASED_TEXT, ErasureReport, Identities, IdentityRecord, IdentityRef, KeyKind, LinkCode,
    LinkCodeIssue, LinkCodeRedemption, MergeMoves, MergeRecord, MergeTrigger, StoreError,
    SuggestedLink, VerifiedKey, check_merge, merge_order,
};
use tandem_model::{ChannelId, Content, ConversationId, CustomerId, ExternalIdentity, Timestamp};

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn json_value<T: serde::Serialize>(what: &str, v: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(v).map_err(|e| StoreError::Unavailable(format!("encoding {what}: {e}")))
}

fn to_bson<T: serde::Serialize>(what: &str, v: &T) -> Result<Bson, StoreError> {
    bson::serialize_to_bson(v).map_err(|e| StoreError::Unavailable(format!("encoding {what}: {e}")))
}

/// A regular expression matching `s` literally.
fn literal(s: &str) -> String {
    s.chars()
        .flat_map(|ch| {
            let escape = !ch.is_ascii_alphanumeric();
            escape.then_some('\\').into_iter().chain([ch])
        })
        .collect()
}

/// The raw customer document (with `merged_into`).
async fn customer_doc(c: &Collections, id: &CustomerId) -> Result<Option<Document>, StoreError> {
    c.customers
        .find_one(CustomerDoc::by_id(id))
        .await
        .map_err(classify)
}

fn merged_into(doc: &Document) -> Option<CustomerId> {
    doc.get_str("merged_into").ok().map(CustomerId::from)
}

/// When a customer document was created (unix ms; unreadable sorts last).
fn created_ms(doc: &Document) -> i64 {
    doc.get_datetime("created_at")
        .map(|d| d.timestamp_millis())
        .unwrap_or(i64::MAX)
}

async fn holder(c: &Collections, key: &VerifiedKey) -> Result<Option<CustomerId>, StoreError> {
    let found = c
        .verified_keys
        .find_one(VerifiedKeyDoc::by_key(key))
        .await
        .map_err(classify)?;
    found
        .map(|d| decode::<VerifiedKeyDoc>("verified key", d)?.holder())
        .transpose()
}

async fn separated(c: &Collections, a: &CustomerId, b: &CustomerId) -> Result<bool, StoreError> {
    Ok(c.identity_audit
        .find_one(AuditDoc::separating(a, b))
        .projection(id_only())
        .await
        .map_err(classify)?
        .is_some())
}

/// Suggests linking `customer` with every customer separated from it (undone merge,
/// unlink) whose identities carry `key`.
async fn suggest_separated_carriers(
    c: &Collections,
    customer: &CustomerId,
    key: &VerifiedKey,
    now: Timestamp,
) -> Result<(), StoreError> {
    let carriers = collect(
        c.identities
            .find(IdentityDoc::carrying(key, customer))
            .projection(IdentityDoc::customer_projection())
            .await
            .map_err(classify)?,
        |doc| IdentityDoc::customer_of(&doc),
    )
    .await?;
    let mut others: Vec<CustomerId> = Vec::new();
    for other in carriers {
        if !others.contains(&other) {
            others.push(other);
        }
    }
    for other in others {
        if separated(c, customer, &other).await? {
            suggest_unmerged(c, customer, other, key, now).await?;
        }
    }
    Ok(())
}

/// Records that `customer` and `other`, once separated, share verified `key` again.
async fn suggest_unmerged(
    c: &Collections,
    customer: &CustomerId,
    other: CustomerId,
    key: &VerifiedKey,
    now: Timestamp,
) -> Result<(), StoreError> {
    let link = SuggestedLink {
        customer_id: customer.clone(),
        other_customer_id: other,
        key: key.clone(),
        reason: "unmerged_before".into(),
        at: now,
    };
    record_suggestion(c, &link).await
}

async fn record_suggestion(c: &Collections, link: &SuggestedLink) -> Result<(), StoreError> {
    match c
        .suggested_links
        .insert_one(encode("suggested link", &SuggestedLinkDoc::new(link))?)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_duplicate_key(&e) => Ok(()),
        Err(e) => Err(classify(e)),
    }
}

async fn insert_audit(
    c: &Collections,
    entry: &AuditEntry,
    applied: bool,
) -> Result<(), StoreError> {
    c.identity_audit
        .insert_one(encode("audit entry", &AuditDoc::new(entry, applied)?)?)
        .await
        .map_err(classify)?;
    Ok(())
}

/// Stores the verified facts of an identity (never clears one).
async fn store_facts(
    c: &Collections,
    channel: &str,
    subject: &str,
    keys: &[VerifiedKey],
) -> Result<(), StoreError> {
    for key in keys {
        let set = match key.kind {
            KeyKind::Email => doc! { "email": &key.value, "email_folded": fold_email(&key.value) },
            KeyKind::Phone => doc! { "phone": &key.value },
        };
        c.identities
            .update_one(
                doc! { "channel": channel, "subject": subject },
                doc! { "$set": set },
            )
            .await
            .map_err(classify)?;
    }
    Ok(())
}

/// How many merge steps one key may take before resolution gives up converging (each
/// step merges two customers, so concurrent resolutions of one person settle quickly).
const CLAIM_STEPS: usize = 16;

/// How far a chain of merges is followed (`merged_into` of `merged_into` ...).
const MERGE_CHAIN: usize = 8;

/// The customer `id` ended up as: itself, or the end of its chain of merges.
async fn root(c: &Collections, id: &CustomerId) -> Result<CustomerId, StoreError> {
    let mut id = id.clone();
    for _ in 0..MERGE_CHAIN {
        let Some(doc) = customer_doc(c, &id).await? else {
            break;
        };
        let Some(next) = merged_into(&doc) else { break };
        id = next;
    }
    Ok(id)
}

/// The customer claiming verified keys.
struct Claimant {
    customer: CustomerId,
    /// Created by the resolution now claiming: it has nothing of its own yet, so it joins
    /// the key's holder whatever their ages.
    created: bool,
}

/// Claims every key for the claimant, merging with the holders that exist (the older
/// survives, except that a customer the resolution just created joins the holder).
/// Concurrent resolutions of one person race on the same customers: each step re-reads
/// where both sides ended up, so every resolver converges on one customer; with the key's
/// first holder surviving the fresh customers, they all answer the same one.
async fn claim_keys(
    c: &Collections,
    claimant: Claimant,
    keys: &[VerifiedKey],
    actor: &str,
    source: &str,
    now: Timestamp,
) -> Result<CustomerId, StoreError> {
    let Claimant {
        mut customer,
        created,
    } = claimant;
    let created_now = created.then(|| customer.clone());
    for key in keys {
        let doc = encode("verified key", &VerifiedKeyDoc::new(key, &customer, now))?;
        match c.verified_keys.insert_one(doc).await {
            Ok(_) => continue,
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(classify(e)),
        }
        for _ in 0..CLAIM_STEPS {
            customer = root(c, &customer).await?;
            let Some(holder) = holder(c, key).await? else {
                break;
            };
            let other = root(c, &holder).await?;
            if other == customer {
                // An unmerge or unlink leaves the key with `customer` while identities of
                // the customers it separated still carry it: suggest them, never merge.
                suggest_separated_carriers(c, &customer, key, now).await?;
                break;
            }
            if separated(c, &customer, &other).await? {
                suggest_unmerged(c, &customer, other, key, now).await?;
                break;
            }
            let (Some(mine), Some(theirs)) = (
                customer_doc(c, &customer).await?,
                customer_doc(c, &other).await?,
            ) else {
                break;
            };
            let fresh = created_now.as_ref() == Some(&customer);
            let (survivor, merged) = merge_order(
                (&customer, created_ms(&mine)),
                fresh,
                (&other, created_ms(&theirs)),
            );
            let trigger = MergeTrigger::verified_key(actor, key, source);
            match merge(c, &survivor, &merged, &trigger, now).await {
                Ok(_) => customer = survivor,
                // A concurrent merge took one of them: the next step follows it.
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    root(c, &customer).await
}

/// Moves `identity`, if it sits on a merged-away customer (racing merges), to the end of
/// the chain starting at `id`; returns that customer.
async fn follow_merges(
    c: &Collections,
    identity: &ExternalIdentity,
    id: &CustomerId,
) -> Result<CustomerId, StoreError> {
    let Some(found) = c
        .identities
        .find_one(IdentityDoc::by_key(identity))
        .projection(IdentityDoc::customer_projection())
        .await
        .map_err(classify)?
    else {
        return root(c, id).await;
    };
    let owner = IdentityDoc::customer_of(&found)?;
    let end = root(c, &owner).await?;
    if end != owner {
        c.identities
            .update_one(
                doc! { "channel": identity.channel.as_str(), "subject": &identity.subject, "customer_id": owner.as_str() },
                doc! { "$set": { "customer_id": end.as_str() } },
            )
            .await
            .map_err(classify)?;
    }
    Ok(end)
}

async fn ids(
    c: &mongodb::Collection<Document>,
    filter: Document,
    sort: Document,
) -> Result<Vec<String>, StoreError> {
    let cursor = c
        .find(filter)
        .sort(sort)
        .projection(id_only())
        .await
        .map_err(classify)?;
    collect(cursor, |d| {
        d.get_str("_id")
            .map(str::to_owned)
            .map_err(|e| StoreError::Corrupt(format!("document without a string _id: {e}")))
    })
    .await
}

/// Merges `merged` into `survivor` ([`Identities::merge_customers`], also run by
/// [`claim_keys`]).
async fn merge(
    c: &Collections,
    survivor: &CustomerId,
    merged: &CustomerId,
    trigger: &MergeTrigger,
    now: Timestamp,
) -> Result<Option<MergeRecord>, StoreError> {
    check_merge(survivor, merged)?;
    let (Some(s), Some(_)) = (
        customer_doc(c, survivor).await?,
        customer_doc(c, merged).await?,
    ) else {
        return Ok(None);
    };
    if merged_into(&s).is_some() {
        return Err(StoreError::Conflict(
            "the surviving customer was merged into another".into(),
        ));
    }
    let claimed = c
        .customers
        .update_one(
            doc! { "_id": merged.as_str(), "merged_into": { "$exists": false } },
            doc! { "$set": { "merged_into": survivor.as_str(), "updated_at": to_datetime(now) } },
        )
        .await
        .map_err(classify)?;
    if claimed.modified_count == 0 {
        return Err(StoreError::Conflict(
            "the customer was already merged into another".into(),
        ));
    }
    let identity_docs = c
        .identities
        .find(IdentityDoc::of_customer(merged))
        .sort(IdentityDoc::oldest_first())
        .await
        .map_err(classify)?;
    let identities = collect(identity_docs, |d| {
        let i = decode::<IdentityDoc>("identity", d)?;
        Ok(IdentityRef {
            channel: ChannelId::new(i.channel),
            subject: i.subject,
        })
    })
    .await?;
    let conversations: Vec<ConversationId> = ids(
        &c.conversations,
        ConversationDoc::of_customer(merged),
        doc! { "opened_at": 1, "_id": 1 },
    )
    .await?
    .into_iter()
    .map(ConversationId::new)
    .collect();
    let events = ids(
        &c.customer_events,
        doc! { "customer_id": merged.as_str() },
        doc! { "at": 1, "_id": 1 },
    )
    .await?;
    let open = |id: &CustomerId| {
        c.conversations
            .find_one(ConversationDoc::open_of(id))
            .projection(id_only())
    };
    let closed_conversation = match (
        open(survivor).await.map_err(classify)?,
        open(merged).await.map_err(classify)?,
    ) {
        (Some(_), Some(doc)) => doc.get_str("_id").ok().map(ConversationId::new),
        _ => None,
    };
    let moves = MergeMoves {
        identities,
        conversations,
        closed_conversation,
        events,
    };
    let record = MergeRecord::new(survivor, merged, trigger, moves, now);
    insert_audit(c, &record.merge_audit()?, false).await?;
    apply_merge(c, &record).await?;
    // The survivor may have been merged away itself while this merge moved things onto
    // it (after that merge moved the survivor's own): pass identities and keys on.
    let end = root(c, survivor).await?;
    if &end != survivor {
        let set = doc! { "$set": { "customer_id": end.as_str() } };
        for coll in [&c.identities, &c.verified_keys] {
            coll.update_many(doc! { "customer_id": survivor.as_str() }, set.clone())
                .await
                .map_err(classify)?;
        }
    }
    Ok(Some(record))
}

/// Applies a merge journal's moves (idempotent) and marks it applied.
async fn apply_merge(c: &Collections, record: &MergeRecord) -> Result<(), StoreError> {
    let (to, from) = (record.survivor.as_str(), record.merged.as_str());
    if let Some(closed) = &record.closed_conversation {
        c.conversations
            .update_one(
                ConversationDoc::open_by_id(closed),
                // `updated_at` stays (last activity), so that unmerge restores it exactly.
                doc! {
                    "$set": { "status": "closed", "closed_at": to_datetime(record.at) },
                    "$inc": { "version": 1_i64 },
                },
            )
            .await
            .map_err(classify)?;
    }
    let conversation_ids: Vec<&str> = record
        .conversations
        .iter()
        .map(ConversationId::as_str)
        .collect();
    let set = doc! { "$set": { "customer_id": to } };
    for (coll, filter) in [
        (&c.identities, doc! { "customer_id": from }),
        (
            &c.conversations,
            doc! { "_id": { "$in": &conversation_ids }, "customer_id": from },
        ),
        (
            &c.transcript,
            doc! { "conversation_id": { "$in": &conversation_ids }, "customer_id": from },
        ),
        (
            &c.escalations,
            doc! { "conversation_id": { "$in": &conversation_ids }, "customer_id": from },
        ),
        (
            &c.customer_events,
            doc! { "_id": { "$in": &record.events }, "customer_id": from },
        ),
        (&c.verified_keys, doc! { "customer_id": from }),
    ] {
        coll.update_many(filter, set.clone())
            .await
            .map_err(classify)?;
    }
    c.identity_audit
        .update_one(AuditDoc::by_id(&record.id), AuditDoc::mark_applied())
        .await
        .map_err(classify)?;
    Ok(())
}

/// Applies merge journals whose writer stopped (maintenance).
pub(crate) async fn finish_merges(c: &Collections) -> Result<usize, StoreError> {
    let cursor = c
        .identity_audit
        .find(AuditDoc::unapplied())
        .limit(100)
        .await
        .map_err(classify)?;
    let pending = collect(cursor, |d| decode::<AuditDoc>("identity audit entry", d)).await?;
    for entry in &pending {
        let record: MergeRecord = serde_json::from_str(&entry.detail)
            .map_err(|e| StoreError::Corrupt(format!("merge journal {}: {e}", entry.id)))?;
        apply_merge(c, &record).await?;
    }
    Ok(pending.len())
}

async fn identity_record(
    c: &Collections,
    channel: &ChannelId,
    subject: &str,
) -> Result<Option<IdentityRecord>, StoreError> {
    let found = c
        .identities
        .find_one(IdentityDoc::by_parts(channel, subject))
        .await
        .map_err(classify)?;
    found
        .map(|d| decode::<IdentityDoc>("identity", d)?.into_record())
        .transpose()
}

/// A customer by id.
async fn customer(c: &Collections, id: &CustomerId) -> Result<Option<CustomerRecord>, StoreError> {
    let doc = c
        .customers
        .find_one(CustomerDoc::by_id(id))
        .await
        .map_err(classify)?;
    doc.map(|d| decode::<CustomerDoc>("customer", d)?.into_record())
        .transpose()
}

/// The customer of `identity` (known, or new with the identity), before its verified keys
/// are claimed; also says whether the customer was created by this call.
///
/// A new customer is inserted before its identity; when the identity insert loses a race
/// (duplicate key), the orphan customer is deleted and the winner's customer returned.
/// A crash between the two inserts leaves an unreachable customer without identities.
async fn resolve_identity(
    c: &Collections,
    identity: &ExternalIdentity,
    now: Timestamp,
) -> Result<(CustomerRecord, bool), StoreError> {
    for _ in 0..RACE_RETRIES {
        let known = c
            .identities
            .find_one(IdentityDoc::by_key(identity))
            .await
            .map_err(classify)?;
        if let Some(found) = known {
            let id = IdentityDoc::customer_of(&found)?;
            if let Some(name) = &identity.display_name {
                c.customers
                    .update_one(
                        CustomerDoc::name_differs(&id, name),
                        CustomerDoc::set_name(name, now),
                    )
                    .await
                    .map_err(classify)?;
            }
            if identity.verified {
                c.identities
                    .update_one(
                        IdentityDoc::unverified(identity),
                        IdentityDoc::set_verified(),
                    )
                    .await
                    .map_err(classify)?;
            }
            if let Some(email) = verified_email(identity) {
                c.identities
                    .update_one(
                        IdentityDoc::email_differs(identity, email),
                        IdentityDoc::set_email(email),
                    )
                    .await
                    .map_err(classify)?;
            }
            let found = customer(c, &id).await?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "identity {}/{} points at missing customer {id}",
                    identity.channel, identity.subject
                ))
            })?;
            return Ok((found, false));
        }
        let id = CustomerId::generate();
        let new = CustomerDoc::new(&id, identity.display_name.clone(), now);
        c.customers
            .insert_one(encode("customer", &new)?)
            .await
            .map_err(classify)?;
        let inserted = c
            .identities
            .insert_one(encode("identity", &IdentityDoc::new(&id, identity, now))?)
            .await;
        match inserted {
            Ok(_) => return Ok((new.into_record()?, true)),
            Err(e) => {
                // Best effort: an orphan customer is harmless but useless.
                let _ = c.customers.delete_one(CustomerDoc::by_id(&id)).await;
                if !is_duplicate_key(&e) {
                    return Err(classify(e));
                }
            }
        }
    }
    Err(StoreError::Conflict(format!(
        "identity {}/{} kept changing concurrently",
        identity.channel, identity.subject
    )))
}

/// The codes of `customer` still usable at `now` (index `link_codes_customer`).
pub(crate) fn active_link_codes(customer: &CustomerId, now: DateTime) -> Document {
    doc! {
        "customer_id": customer.as_str(),
        "expires_at": { "$gt": now },
        "used_at": Bson::Null,
    }
}

#[async_trait]
impl Identities for MongoStore {
    async fn resolve_customer(
        &self,
        identity: &ExternalIdentity,
        now: Timestamp,
    ) -> Result<CustomerRecord, StoreError> {
        self.bounded(async |c| {
            let keys = VerifiedKey::of(identity);
            let known = c
                .identities
                .find_one(IdentityDoc::by_key(identity))
                .projection(id_only())
                .await
                .map_err(classify)?;
            if known.is_none() {
                for key in &keys {
                    if let Some(h) = holder(c, key).await?
                        && customer_doc(c, &h).await?.is_some()
                    {
                        let doc = encode("identity", &IdentityDoc::new(&h, identity, now))?;
                        match c.identities.insert_one(doc).await {
                            Ok(_) => {}
                            Err(e) if is_duplicate_key(&e) => {}
                            Err(e) => return Err(classify(e)),
                        }
                        break;
                    }
                }
            }
            let (resolved, created) = resolve_identity(c, identity, now).await?;
            let (channel, subject) = (identity.channel.as_str(), identity.subject.as_str());
            store_facts(c, channel, subject, &keys).await?;
            let id = follow_merges(c, identity, &resolved.id).await?;
            let id = claim_keys(
                c,
                Claimant {
                    customer: id,
                    created,
                },
                &keys,
                "verified_key",
                &format!("{channel}/{subject}"),
                now,
            )
            .await?;
            // A merge racing with this resolution can have left the identity behind.
            let id = follow_merges(c, identity, &id).await?;
            customer(c, &id).await?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "identity {channel}/{subject} points at a missing customer"
                ))
            })
        })
        .await
    }

    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerRecord>, StoreError> {
        self.bounded(async |c| customer(c, id).await).await
    }

    async fn identities(&self, customer: &CustomerId) -> Result<Vec<IdentityRecord>, StoreError> {
        self.bounded(async |c| {
            let cursor = c
                .identities
                .find(IdentityDoc::of_customer(customer))
                .sort(IdentityDoc::oldest_first())
                .await
                .map_err(classify)?;
            collect(cursor, |d| {
                decode::<IdentityDoc>("identity", d)?.into_record()
            })
            .await
        })
        .await
    }

    async fn customer_by_identity(
        &self,
        channel: &ChannelId,
        subject: &str,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        self.bounded(async |c| {
            let identity = c
                .identities
                .find_one(IdentityDoc::by_parts(channel, subject))
                .await
                .map_err(classify)?;
            match identity {
                Some(found) => customer(c, &IdentityDoc::customer_of(&found)?).await,
                None => Ok(None),
            }
        })
        .await
    }

    /// The owners of identities with this verified email, oldest customer first.
    async fn customers_by_email(&self, email: &str) -> Result<Vec<CustomerRecord>, StoreError> {
        self.bounded(async |c| {
            if email.trim().is_empty() {
                return Ok(Vec::new());
            }
            let identities: Vec<bson::Document> = c
                .identities
                .find(IdentityDoc::with_email(email))
                .projection(IdentityDoc::customer_projection())
                .await
                .map_err(classify)?
                .try_collect()
                .await
                .map_err(classify)?;
            let ids = identities
                .iter()
                .map(IdentityDoc::customer_of)
                .collect::<Result<BTreeSet<_>, _>>()?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<CustomerId> = ids.into_iter().collect();
            let cursor = c
                .customers
                .find(CustomerDoc::by_ids(&ids))
                .sort(CustomerDoc::oldest_first())
                .await
                .map_err(classify)?;
            collect(cursor, |d| {
                decode::<CustomerDoc>("customer", d)?.into_record()
            })
            .await
        })
        .await
    }

    /// One atomic update of the customer document.
    async fn update_customer(
        &self,
        id: &CustomerId,
        update: CustomerUpdate,
        now: Timestamp,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        self.bounded(async |c| {
            let updated = c
                .customers
                .find_one_and_update(CustomerDoc::by_id(id), CustomerDoc::update(&update, now)?)
                .return_document(ReturnDocument::After)
                .await
                .map_err(classify)?;
            updated
                .map(|d| decode::<CustomerDoc>("customer", d)?.into_record())
                .transpose()
        })
        .await
    }

    /// An unknown customer is a [`StoreError::Conflict`] (as the SQLite store's foreign key).
    async fn record_customer_event(&self, event: &CustomerEvent) -> Result<bool, StoreError> {
        self.bounded(async |c| {
            let known = c
                .customers
                .find_one(CustomerDoc::by_id(&event.customer_id))
                .projection(id_only())
                .await
                .map_err(classify)?;
            if known.is_none() {
                return Err(StoreError::Conflict(format!(
                    "unknown customer {}",
                    event.customer_id
                )));
            }
            let doc = encode("customer event", &CustomerEventDoc::new(event))?;
            match c.customer_events.insert_one(doc).await {
                Ok(_) => Ok(true),
                Err(e) if is_duplicate_key(&e) => Ok(false),
                Err(e) => Err(classify(e)),
            }
        })
        .await
    }

    async fn customer_events(
        &self,
        customer: &CustomerId,
        since: Timestamp,
    ) -> Result<Vec<CustomerEvent>, StoreError> {
        self.bounded(async |c| {
            let cursor = c
                .customer_events
                .find(CustomerEventDoc::of_customer_since(customer, since))
                .sort(CustomerEventDoc::oldest_first())
                .await
                .map_err(classify)?;
            collect(cursor, |d| {
                decode::<CustomerEventDoc>("customer event", d)?.into_event()
            })
            .await
        })
        .await
    }

    async fn merge_customers(
        &self,
        survivor: &CustomerId,
        merged: &CustomerId,
        trigger: &MergeTrigger,
        now: Timestamp,
    ) -> Result<Option<MergeRecord>, StoreError> {
        self.bounded(async |c| merge(c, survivor, merged, trigger, now).await)
            .await
    }

    async fn unmerge(
        &self,
        merge_id: &str,
        now: Timestamp,
    ) -> Result<Option<MergeRecord>, StoreError> {
        self.bounded(async |c| {
            let Some(found) = c
                .identity_audit
                .find_one(doc! { "_id": merge_id, "kind": "merge" })
                .await
                .map_err(classify)?
            else {
                return Ok(None);
            };
            let entry = decode::<AuditDoc>("identity audit entry", found)?;
            let mut record: MergeRecord = serde_json::from_str(&entry.detail)
                .map_err(|e| StoreError::Corrupt(format!("merge {merge_id}: {e}")))?;
            if !entry.applied {
                apply_merge(c, &record).await?;
            }
            record.unmerged_at = Some(now);
            let detail = serde_json::to_string(&record)
                .map_err(|e| StoreError::Unavailable(format!("encoding a merge: {e}")))?;
            let claimed = c
                .identity_audit
                .update_one(
                    AuditDoc::live_merge(merge_id),
                    AuditDoc::mark_unmerged(&detail, now),
                )
                .await
                .map_err(classify)?;
            if claimed.modified_count == 0 {
                return Err(StoreError::Conflict(format!(
                    "merge {merge_id} was already undone"
                )));
            }
            let (to, from) = (record.merged.as_str(), record.survivor.as_str());
            let set = doc! { "$set": { "customer_id": to } };
            for identity in &record.identities {
                c.identities
                    .update_one(
                        doc! { "channel": identity.channel.as_str(), "subject": &identity.subject, "customer_id": from },
                        set.clone(),
                    )
                    .await
                    .map_err(classify)?;
            }
            let conversation_ids: Vec<&str> = record
                .conversations
                .iter()
                .map(ConversationId::as_str)
                .collect();
            for (coll, filter) in [
                (
                    &c.conversations,
                    doc! { "_id": { "$in": &conversation_ids }, "customer_id": from },
                ),
                (
                    &c.transcript,
                    doc! { "conversation_id": { "$in": &conversation_ids }, "customer_id": from },
                ),
                (
                    &c.escalations,
                    doc! { "conversation_id": { "$in": &conversation_ids }, "customer_id": from },
                ),
                (
                    &c.customer_events,
                    doc! { "_id": { "$in": &record.events }, "customer_id": from },
                ),
            ] {
                coll.update_many(filter, set.clone())
                    .await
                    .map_err(classify)?;
            }
            if let Some(closed) = &record.closed_conversation
                && c.conversations
                    .find_one(ConversationDoc::open_of(&record.merged))
                    .projection(id_only())
                    .await
                    .map_err(classify)?
                    .is_none()
            {
                let reopened = c
                    .conversations
                    .update_one(
                        doc! { "_id": closed.as_str(), "customer_id": to, "status": "closed" },
                        doc! {
                            "$set": { "status": "open" },
                            "$unset": { "closed_at": "" },
                            "$inc": { "version": 1_i64 },
                        },
                    )
                    .await;
                match reopened {
                    Ok(_) => {}
                    // The customer opened another conversation meanwhile: it stays closed.
                    Err(e) if is_duplicate_key(&e) => {}
                    Err(e) => return Err(classify(e)),
                }
            }
            c.customers
                .update_one(
                    CustomerDoc::by_id(&record.merged),
                    doc! { "$unset": { "merged_into": "" }, "$set": { "updated_at": to_datetime(now) } },
                )
                .await
                .map_err(classify)?;
            insert_audit(c, &record.unmerge_audit(now)?, true).await?;
            Ok(Some(record))
        })
        .await
    }

    async fn link_identity(
        &self,
        customer_id: &CustomerId,
        identity: &ExternalIdentity,
        source: &str,
        now: Timestamp,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        self.bounded(async |c| {
            let Some(doc) = customer_doc(c, customer_id).await? else {
                return Ok(None);
            };
            if merged_into(&doc).is_some() {
                return Err(StoreError::Conflict(
                    "the customer was merged into another".into(),
                ));
            }
            let (channel, subject) = (&identity.channel, identity.subject.as_str());
            match identity_record(c, channel, subject).await? {
                Some(existing) if existing.customer_id != *customer_id => {
                    return Err(StoreError::Conflict(
                        "the identity belongs to another customer".into(),
                    ));
                }
                Some(_) => {
                    c.identities
                        .update_one(IdentityDoc::by_key(identity), IdentityDoc::set_verified())
                        .await
                        .map_err(classify)?;
                }
                None => {
                    let mut new = IdentityDoc::new(customer_id, identity, now);
                    new.verified = true;
                    new.source = Some(source.to_owned());
                    match c.identities.insert_one(encode("identity", &new)?).await {
                        Ok(_) => {}
                        Err(e) if is_duplicate_key(&e) => {
                            return Err(StoreError::Conflict(
                                "the identity was linked concurrently".into(),
                            ));
                        }
                        Err(e) => return Err(classify(e)),
                    }
                }
            }
            let keys = VerifiedKey::of(identity);
            store_facts(c, channel.as_str(), subject, &keys).await?;
            let entry = AuditEntry {
                id: new_id("lnk"),
                kind: AuditKind::Link,
                customer_id: customer_id.clone(),
                other_customer_id: None,
                actor: source.to_owned(),
                at: now,
                detail: serde_json::json!({
                    "channel": channel.as_str(),
                    "subject": subject,
                    "source": source,
                    "keys": keys.iter().map(VerifiedKey::label).collect::<Vec<_>>(),
                }),
            };
            insert_audit(c, &entry, true).await?;
            claim_keys(
                c,
                Claimant {
                    customer: customer_id.clone(),
                    created: false,
                },
                &keys,
                source,
                &format!("{channel}/{subject}"),
                now,
            )
            .await?;
            identity_record(c, channel, subject).await
        })
        .await
    }

    async fn unlink_identity(
        &self,
        customer_id: &CustomerId,
        channel: &ChannelId,
        subject: &str,
        now: Timestamp,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        self.bounded(async |c| {
            match identity_record(c, channel, subject).await? {
                Some(existing) if existing.customer_id == *customer_id => {}
                _ => return Ok(None),
            }
            let new = CustomerId::generate();
            c.customers
                .insert_one(encode("customer", &CustomerDoc::new(&new, None, now))?)
                .await
                .map_err(classify)?;
            let moved = c
                .identities
                .update_one(
                    doc! { "channel": channel.as_str(), "subject": subject, "customer_id": customer_id.as_str() },
                    doc! { "$set": { "customer_id": new.as_str() } },
                )
                .await
                .map_err(classify)?;
            if moved.modified_count == 0 {
                let _ = c.customers.delete_one(CustomerDoc::by_id(&new)).await;
                return Ok(None);
            }
            let entry = AuditEntry {
                id: new_id("unl"),
                kind: AuditKind::Unlink,
                customer_id: customer_id.clone(),
                other_customer_id: Some(new.clone()),
                actor: "admin".into(),
                at: now,
                detail: serde_json::json!({ "channel": channel.as_str(), "subject": subject }),
            };
            insert_audit(c, &entry, true).await?;
            customer(c, &new).await
        })
        .await
    }

    async fn identity_audit(
        &self,
        customer_id: &CustomerId,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.bounded(async |c| {
            let cursor = c
                .identity_audit
                .find(AuditDoc::of_customer(customer_id))
                .sort(AuditDoc::oldest_first())
                .await
                .map_err(classify)?;
            collect(cursor, |d| {
                decode::<AuditDoc>("identity audit entry", d)?.into_entry()
            })
            .await
        })
        .await
    }

    async fn suggest_link(
        &self,
        customer_id: &CustomerId,
        key: &VerifiedKey,
        now: Timestamp,
    ) -> Result<Option<SuggestedLink>, StoreError> {
        self.bounded(async |c| {
            let Some(other) = holder(c, key).await?.filter(|h| h != customer_id) else {
                return Ok(None);
            };
            let link = SuggestedLink {
                customer_id: customer_id.clone(),
                other_customer_id: other.clone(),
                key: key.clone(),
                reason: "unverified_claim".into(),
                at: now,
            };
            record_suggestion(c, &link).await?;
            let id = SuggestedLinkDoc::id_of(customer_id, &other, key);
            let stored = c
                .suggested_links
                .find_one(doc! { "_id": id })
                .await
                .map_err(classify)?;
            stored
                .map(|d| decode::<SuggestedLinkDoc>("suggested link", d)?.into_link())
                .transpose()
        })
        .await
    }

    async fn suggested_links(
        &self,
        customer_id: &CustomerId,
    ) -> Result<Vec<SuggestedLink>, StoreError> {
        self.bounded(async |c| {
            let cursor = c
                .suggested_links
                .find(SuggestedLinkDoc::of_customer(customer_id))
                .sort(SuggestedLinkDoc::oldest_first())
                .await
                .map_err(classify)?;
            collect(cursor, |d| {
                decode::<SuggestedLinkDoc>("suggested link", d)?.into_link()
            })
            .await
        })
        .await
    }

    /// A sequence of idempotent updates: an erasure that fails midway is completed by
    /// running it again.
    async fn erase_customer(
        &self,
        customer_id: &CustomerId,
        now: Timestamp,
    ) -> Result<Option<ErasureReport>, StoreError> {
        self.bounded(async |c| {
            if customer_doc(c, customer_id).await?.is_none() {
                return Ok(None);
            }
            let mut people = vec![customer_id.as_str().to_owned()];
            let mut i = 0;
            while i < people.len() {
                let merged = ids(
                    &c.customers,
                    doc! { "merged_into": &people[i] },
                    doc! { "_id": 1 },
                )
                .await?;
                people.extend(merged);
                i += 1;
            }
            let erased_content = to_bson(
                "erased content",
                &Content::Text {
                    text: ERASED_TEXT.to_owned(),
                },
            )?;
            let mut report = ErasureReport::default();
            for person in &people {
                let person_id = CustomerId::new(person.clone());
                let cursor = c
                    .identities
                    .find(IdentityDoc::of_customer(&person_id))
                    .await
                    .map_err(classify)?;
                let identities = collect(cursor, |d| decode::<IdentityDoc>("identity", d)).await?;
                for identity in &identities {
                    let (channel, subject) = (identity.channel.as_str(), identity.subject.as_str());
                    let of_sender = doc! { "channel": channel, "sender.subject": subject };
                    let mut pending = of_sender.clone();
                    pending.insert("processed", false);
                    c.inbound.delete_many(pending).await.map_err(classify)?;
                    c.inbound
                        .update_many(
                            of_sender,
                            doc! { "$set": {
                                "sender": { "channel": channel, "subject": ERASED_TEXT, "verified": false },
                                "content": erased_content.clone(),
                            } },
                        )
                        .await
                        .map_err(classify)?;
                    c.reachability
                        .delete_many(doc! { "channel": channel, "subject": subject })
                        .await
                        .map_err(classify)?;
                    let pattern = literal(subject);
                    c.kv.delete_many(doc! { "namespace": channel, "$or": [
                        { "key": { "$regex": &pattern } }, { "value": { "$regex": &pattern } },
                    ] })
                    .await
                    .map_err(classify)?;
                }
                report.identities += c
                    .identities
                    .delete_many(IdentityDoc::of_customer(&person_id))
                    .await
                    .map_err(classify)?
                    .deleted_count;
                c.verified_keys
                    .delete_many(VerifiedKeyDoc::of_customer(&person_id))
                    .await
                    .map_err(classify)?;
                let cursor = c
                    .conversations
                    .find(ConversationDoc::of_customer(&person_id))
                    .await
                    .map_err(classify)?;
                let conversations =
                    collect(cursor, |d| decode::<ConversationDoc>("conversation", d)).await?;
                for conversation in conversations {
                    let mut state: ConversationState = conversation.state.clone();
                    let mut refs = vec![conversation.id.clone()];
                    refs.extend(state.erase_personal());
                    c.conversations
                        .update_one(
                            doc! { "_id": &conversation.id },
                            doc! { "$set": { "state": to_bson("conversation state", &state)?, "updated_at": to_datetime(now) },
                                   "$inc": { "version": 1_i64 } },
                        )
                        .await
                        .map_err(classify)?;
                    report.transcript_entries += c
                        .transcript
                        .update_many(
                            doc! { "conversation_id": &conversation.id },
                            doc! { "$set": { "content": erased_content.clone(), "buttons": [] } },
                        )
                        .await
                        .map_err(classify)?
                        .matched_count;
                    report.ai_audit_records += c
                        .ai_audit
                        .delete_many(AiAuditDoc::of_conversations(std::slice::from_ref(
                            &conversation.id,
                        )))
                        .await
                        .map_err(classify)?
                        .deleted_count;
                    c.outbox
                        .update_many(
                            doc! { "conversation_id": &conversation.id, "unfinished": true },
                            doc! { "$set": { "status": "failed", "unfinished": false, "head": false,
                                      "last_error": "erased", "finished_at": to_datetime(now) },
                            "$unset": { "claim": "", "claim_expires_at": "", "due_at": "" } },
                        )
                        .await
                        .map_err(classify)?;
                    c.outbox
                        .update_many(
                            doc! { "conversation_id": &conversation.id },
                            doc! { "$set": { "message.recipient": ERASED_TEXT, "message.content": { "text": ERASED_TEXT } } },
                        )
                        .await
                        .map_err(classify)?;
                    for r in &refs {
                        let pattern = literal(r);
                        c.kv.delete_many(doc! { "$or": [
                            { "key": { "$regex": &pattern } }, { "value": { "$regex": &pattern } },
                        ] })
                        .await
                        .map_err(classify)?;
                    }
                    report.conversations += 1;
                }
                report.events += c
                    .customer_events
                    .update_many(
                        doc! { "customer_id": person },
                        doc! { "$set": { "data": Bson::Null } },
                    )
                    .await
                    .map_err(classify)?
                    .matched_count;
                c.customers
                    .update_one(
                        doc! { "_id": person },
                        doc! { "$set": { "display_name": Bson::Null, "segment": Bson::Null, "attributes": {},
                                         "updated_at": to_datetime(now) } },
                    )
                    .await
                    .map_err(classify)?;
                c.identity_audit
                    .update_many(AuditDoc::of_customer(&person_id), AuditDoc::erase_detail())
                    .await
                    .map_err(classify)?;
                c.suggested_links
                    .delete_many(SuggestedLinkDoc::of_customer(&person_id))
                    .await
                    .map_err(classify)?;
                c.link_codes
                    .delete_many(doc! { "customer_id": person.as_str() })
                    .await
                    .map_err(classify)?;
            }
            let entry = AuditEntry {
                id: new_id("era"),
                kind: AuditKind::Erase,
                customer_id: customer_id.clone(),
                other_customer_id: None,
                actor: "admin".into(),
                at: now,
                detail: json_value("an erasure", &report)?,
            };
            insert_audit(c, &entry, true).await?;
            Ok(Some(report))
        })
        .await
    }

    async fn create_link_code(
        &self,
        code: &LinkCode,
        max_active: usize,
    ) -> Result<LinkCodeIssue, StoreError> {
        self.bounded(async |c| {
            let customer = code.customer_id.as_str();
            let known = c
                .customers
                .find_one(doc! { "_id": customer })
                .projection(doc! { "_id": 1 })
                .await
                .map_err(classify)?;
            if known.is_none() {
                return Ok(LinkCodeIssue::UnknownCustomer);
            }
            let now = to_datetime(code.created_at);
            let active = c
                .link_codes
                .count_documents(active_link_codes(&code.customer_id, now))
                .await
                .map_err(classify)?;
            if usize::try_from(active).unwrap_or(usize::MAX) >= max_active {
                return Ok(LinkCodeIssue::TooMany);
            }
            let inserted = c
                .link_codes
                .insert_one(doc! {
                    "_id": &code.code,
                    "schema_version": 1_i32,
                    "customer_id": customer,
                    "created_at": now,
                    "expires_at": to_datetime(code.expires_at),
                    "used_at": Bson::Null,
                })
                .await;
            match inserted {
                Ok(_) => Ok(LinkCodeIssue::Issued),
                Err(e) if is_duplicate_key(&e) => {
                    Err(StoreError::Conflict("link code already exists".into()))
                }
                Err(e) => Err(classify(e)),
            }
        })
        .await
    }

    async fn redeem_link_code(
        &self,
        code: &str,
        redeemer: &str,
        now: Timestamp,
    ) -> Result<LinkCodeRedemption, StoreError> {
        self.bounded(async |c| {
            let now = to_datetime(now);
            let before = c
                .link_codes
                .find_one_and_update(
                    doc! { "_id": code, "used_at": Bson::Null, "expires_at": { "$gt": now } },
                    doc! { "$set": { "used_at": now, "used_by": redeemer } },
                )
                .await
                .map_err(classify)?;
            if let Some(doc) = before {
                let customer = doc
                    .get_str("customer_id")
                    .map_err(|e| StoreError::Corrupt(format!("link code without customer: {e}")))?;
                return Ok(LinkCodeRedemption::Redeemed(CustomerId::new(customer)));
            }
            let stale = c
                .link_codes
                .find_one(doc! { "_id": code })
                .projection(doc! { "customer_id": 1, "used_at": 1, "used_by": 1 })
                .await
                .map_err(classify)?;
            let Some(stale) = stale else {
                return Ok(LinkCodeRedemption::Unknown);
            };
            let used = matches!(stale.get("used_at"), Some(v) if *v != Bson::Null);
            if !used {
                return Ok(LinkCodeRedemption::Expired);
            }
            let customer = stale
                .get_str("customer_id")
                .map_err(|e| StoreError::Corrupt(format!("link code without customer: {e}")))?;
            if stale.get_str("used_by").is_ok_and(|by| by == redeemer) {
                return Ok(LinkCodeRedemption::Redeemed(CustomerId::new(customer)));
            }
            Ok(LinkCodeRedemption::AlreadyUsed(CustomerId::new(customer)))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn literal_escapes_regex_syntax() {
        assert_eq!(literal("a.b+1"), "a\\.b\\+1");
        assert_eq!(literal("hnd_42"), "hnd\\_42");
    }
}
