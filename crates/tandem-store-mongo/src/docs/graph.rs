//! The verified identity graph: verified keys (`verified_keys`), the identity audit trail
//! with merge journals (`identity_audit`) and suggested links (`suggested_links`).
//!
//! - `verified_keys`: `_id` is the key's label (`email:e@x.org`, `phone:+1555...`), so the
//!   `_id` index makes a verified key belong to one customer: the first writer wins and a
//!   concurrent writer gets a duplicate key and joins (or merges into) the holder.
//! - `identity_audit`: one entry per merge, unmerge, link, unlink and erasure; indexes on
//!   both customer fields. A merge entry is also the merge's journal: it is inserted with
//!   `applied: false` before anything moves, its idempotent moves are then applied, and
//!   `applied` becomes true (partial index on unapplied merges, finished by maintenance).
//! - `suggested_links`: `_id` is `customer|other|key`, so a suggestion is recorded once.

use super::{SCHEMA_VERSION, check_schema, from_datetime, from_opt_datetime, to_datetime};
use bson::{DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use serde::{Deserialize, Serialize};
use tandem_core::store::{AuditEntry, AuditKind, StoreError, SuggestedLink, VerifiedKey};
use tandem_model::{CustomerId, Timestamp};

/// The verified keys collection.
pub(crate) const VERIFIED_KEYS: &str = "verified_keys";
/// The identity audit collection.
pub(crate) const IDENTITY_AUDIT: &str = "identity_audit";
/// The suggested links collection.
pub(crate) const SUGGESTED_LINKS: &str = "suggested_links";

/// A verified key and the customer holding it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct VerifiedKeyDoc {
    /// The key's label.
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) schema_version: i32,
    pub(crate) customer_id: String,
    pub(crate) at: DateTime,
}

impl VerifiedKeyDoc {
    /// `key` held by `customer` since `now`.
    pub(crate) fn new(key: &VerifiedKey, customer: &CustomerId, now: Timestamp) -> Self {
        Self {
            id: key.label(),
            schema_version: SCHEMA_VERSION,
            customer_id: customer.as_str().to_owned(),
            at: to_datetime(now),
        }
    }

    /// The holder of a stored key.
    pub(crate) fn holder(self) -> Result<CustomerId, StoreError> {
        check_schema("verified key", self.schema_version)?;
        Ok(CustomerId::new(self.customer_id))
    }

    /// The key `key`.
    pub(crate) fn by_key(key: &VerifiedKey) -> Document {
        doc! { "_id": key.label() }
    }

    /// The keys held by `customer`.
    pub(crate) fn of_customer(customer: &CustomerId) -> Document {
        doc! { "customer_id": customer.as_str() }
    }
}

/// One identity audit entry (a merge's entry is also its journal).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AuditDoc {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) schema_version: i32,
    pub(crate) kind: AuditKind,
    pub(crate) customer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) other_customer_id: Option<String>,
    pub(crate) actor: String,
    pub(crate) at: DateTime,
    /// The entry's detail, as JSON text (a merge's `MergeRecord`).
    pub(crate) detail: String,
    /// False while a merge's moves are not all applied.
    pub(crate) applied: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) unmerged_at: Option<DateTime>,
}

impl AuditDoc {
    /// The document of an entry; `applied` false for a merge journal.
    pub(crate) fn new(entry: &AuditEntry, applied: bool) -> Result<Self, StoreError> {
        Ok(Self {
            id: entry.id.clone(),
            schema_version: SCHEMA_VERSION,
            kind: entry.kind,
            customer_id: entry.customer_id.as_str().to_owned(),
            other_customer_id: entry
                .other_customer_id
                .as_ref()
                .map(|c| c.as_str().to_owned()),
            actor: entry.actor.clone(),
            at: to_datetime(entry.at),
            detail: serde_json::to_string(&entry.detail)
                .map_err(|e| StoreError::Unavailable(format!("encoding an audit entry: {e}")))?,
            applied,
            unmerged_at: None,
        })
    }

    /// The entry as the core sees it.
    pub(crate) fn into_entry(self) -> Result<AuditEntry, StoreError> {
        check_schema("identity audit entry", self.schema_version)?;
        let _ = from_opt_datetime(self.unmerged_at)?;
        Ok(AuditEntry {
            id: self.id,
            kind: self.kind,
            customer_id: CustomerId::new(self.customer_id),
            other_customer_id: self.other_customer_id.map(CustomerId::new),
            actor: self.actor,
            at: from_datetime(self.at)?,
            detail: serde_json::from_str(&self.detail)
                .map_err(|e| StoreError::Corrupt(format!("identity audit detail: {e}")))?,
        })
    }

    /// The entry `id`.
    pub(crate) fn by_id(id: &str) -> Document {
        doc! { "_id": id }
    }

    /// The merge `id` while not undone.
    pub(crate) fn live_merge(id: &str) -> Document {
        doc! { "_id": id, "kind": "merge", "unmerged_at": { "$exists": false } }
    }

    /// Entries where `customer` is either side.
    pub(crate) fn of_customer(customer: &CustomerId) -> Document {
        doc! { "$or": [ { "customer_id": customer.as_str() }, { "other_customer_id": customer.as_str() } ] }
    }

    /// Oldest first.
    pub(crate) fn oldest_first() -> Document {
        doc! { "at": 1, "_id": 1 }
    }

    /// An undone merge or an unlink between `a` and `b`.
    pub(crate) fn separating(a: &CustomerId, b: &CustomerId) -> Document {
        let (a, b) = (a.as_str(), b.as_str());
        doc! {
            "$and": [
                { "$or": [
                    { "kind": "merge", "unmerged_at": { "$exists": true } },
                    { "kind": "unlink" },
                ] },
                { "$or": [
                    { "customer_id": a, "other_customer_id": b },
                    { "customer_id": b, "other_customer_id": a },
                ] },
            ]
        }
    }

    /// Merge journals not yet applied.
    pub(crate) fn unapplied() -> Document {
        doc! { "kind": "merge", "applied": false }
    }

    /// Marks a merge journal applied.
    pub(crate) fn mark_applied() -> Document {
        doc! { "$set": { "applied": true } }
    }

    /// Marks a merge undone, storing its updated detail.
    pub(crate) fn mark_unmerged(detail: &str, now: Timestamp) -> Document {
        doc! { "$set": { "unmerged_at": to_datetime(now), "detail": detail } }
    }

    /// Replaces the detail by an erasure marker.
    pub(crate) fn erase_detail() -> Document {
        doc! { "$set": { "detail": "{\"erased\":true}" } }
    }
}

/// One suggested link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SuggestedLinkDoc {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) schema_version: i32,
    pub(crate) customer_id: String,
    pub(crate) other_customer_id: String,
    pub(crate) key: VerifiedKey,
    pub(crate) reason: String,
    pub(crate) at: DateTime,
}

impl SuggestedLinkDoc {
    /// The document of a suggestion.
    pub(crate) fn new(link: &SuggestedLink) -> Self {
        Self {
            id: Self::id_of(&link.customer_id, &link.other_customer_id, &link.key),
            schema_version: SCHEMA_VERSION,
            customer_id: link.customer_id.as_str().to_owned(),
            other_customer_id: link.other_customer_id.as_str().to_owned(),
            key: link.key.clone(),
            reason: link.reason.clone(),
            at: to_datetime(link.at),
        }
    }

    /// The `_id` of a suggestion.
    pub(crate) fn id_of(customer: &CustomerId, other: &CustomerId, key: &VerifiedKey) -> String {
        format!("{}|{}|{}", customer.as_str(), other.as_str(), key.label())
    }

    /// The suggestion as the core sees it.
    pub(crate) fn into_link(self) -> Result<SuggestedLink, StoreError> {
        check_schema("suggested link", self.schema_version)?;
        Ok(SuggestedLink {
            customer_id: CustomerId::new(self.customer_id),
            other_customer_id: CustomerId::new(self.other_customer_id),
            key: self.key,
            reason: self.reason,
            at: from_datetime(self.at)?,
        })
    }

    /// Suggestions where `customer` is either side.
    pub(crate) fn of_customer(customer: &CustomerId) -> Document {
        AuditDoc::of_customer(customer)
    }

    /// Oldest first.
    pub(crate) fn oldest_first() -> Document {
        doc! { "at": 1, "_id": 1 }
    }
}

fn named(keys: Document, name: &str, partial: Option<Document>) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(
            IndexOptions::builder()
                .name(name.to_owned())
                .partial_filter_expression(partial)
                .build(),
        )
        .build()
}

/// Index models of the verified keys collection: the `_id` is the key; holders by customer.
pub(crate) fn verified_key_indexes() -> Vec<IndexModel> {
    vec![named(
        doc! { "customer_id": 1 },
        "verified_keys_customer",
        None,
    )]
}

/// Index models of the identity audit collection.
pub(crate) fn audit_indexes() -> Vec<IndexModel> {
    vec![
        named(
            doc! { "customer_id": 1, "at": 1 },
            "identity_audit_customer",
            None,
        ),
        named(
            doc! { "other_customer_id": 1, "at": 1 },
            "identity_audit_other",
            None,
        ),
        named(
            doc! { "applied": 1 },
            "identity_audit_unapplied",
            Some(doc! { "applied": false }),
        ),
    ]
}

/// Index models of the suggested links collection.
pub(crate) fn suggested_link_indexes() -> Vec<IndexModel> {
    vec![
        named(doc! { "customer_id": 1 }, "suggested_links_customer", None),
        named(
            doc! { "other_customer_id": 1 },
            "suggested_links_other",
            None,
        ),
    ]
}
