//! Customers (`customers`) and their channel identities (`identities`).
//!
//! A customer's `_id` is its id. An identity is unique on `(channel, subject)`; a
//! customer's identities are listed oldest first through `(customer_id, created_at, _id)`;
//! customers are found by a verified email through the identities' lowercased
//! `email_folded` (partial index).

use super::{SCHEMA_VERSION, check_schema, from_datetime, to_datetime};
use bson::oid::ObjectId;
use bson::{Bson, DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tandem_core::store::{
    CustomerRecord, CustomerUpdate, IdentityRecord, KeyKind, StoreError, VerifiedKey,
};
use tandem_model::{ChannelId, CustomerId, ExternalIdentity, Timestamp};

/// The customers collection.
pub(crate) const CUSTOMERS: &str = "customers";
/// The identities collection.
pub(crate) const IDENTITIES: &str = "identities";

/// A customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CustomerDoc {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) schema_version: i32,
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    #[serde(default)]
    pub(crate) segment: Option<String>,
    #[serde(default)]
    pub(crate) attributes: BTreeMap<String, serde_json::Value>,
    pub(crate) created_at: DateTime,
    pub(crate) updated_at: DateTime,
}

impl CustomerDoc {
    /// A new customer document.
    pub(crate) fn new(id: &CustomerId, display_name: Option<String>, now: Timestamp) -> Self {
        Self {
            id: id.as_str().to_owned(),
            schema_version: SCHEMA_VERSION,
            display_name,
            segment: None,
            attributes: BTreeMap::new(),
            created_at: to_datetime(now),
            updated_at: to_datetime(now),
        }
    }

    /// The document of a record (`updated_at` given separately: records do not carry it).
    #[cfg(test)]
    pub(crate) fn from_record(record: &CustomerRecord, updated_at: Timestamp) -> Self {
        let CustomerRecord {
            id,
            display_name,
            segment,
            attributes,
            created_at,
        } = record;
        Self {
            id: id.as_str().to_owned(),
            schema_version: SCHEMA_VERSION,
            display_name: display_name.clone(),
            segment: segment.clone(),
            attributes: attributes.clone(),
            created_at: to_datetime(*created_at),
            updated_at: to_datetime(updated_at),
        }
    }

    /// The record as the core sees it.
    pub(crate) fn into_record(self) -> Result<CustomerRecord, StoreError> {
        check_schema("customer", self.schema_version)?;
        Ok(CustomerRecord {
            id: self.id.into(),
            display_name: self.display_name,
            segment: self.segment,
            attributes: self.attributes,
            created_at: from_datetime(self.created_at)?,
        })
    }

    /// The customer `id`.
    pub(crate) fn by_id(id: &CustomerId) -> Document {
        doc! { "_id": id.as_str() }
    }

    /// The customers `ids`, oldest first with [`CustomerDoc::oldest_first`].
    pub(crate) fn by_ids(ids: &[CustomerId]) -> Document {
        let ids: Vec<&str> = ids.iter().map(CustomerId::as_str).collect();
        doc! { "_id": { "$in": ids } }
    }

    /// Oldest first.
    pub(crate) fn oldest_first() -> Document {
        doc! { "created_at": 1, "_id": 1 }
    }

    /// A profile update as an update pipeline: attribute keys are set and removed with
    /// `$setField` (to `$$REMOVE` to remove) and every value is a `$literal`, so keys with `.` or a
    /// leading `$` and values that look like expressions are stored as given.
    pub(crate) fn update(
        update: &CustomerUpdate,
        now: Timestamp,
    ) -> Result<Vec<Document>, StoreError> {
        let CustomerUpdate {
            display_name,
            segment,
            attributes,
        } = update;
        let mut stages = Vec::new();
        if let Some(name) = display_name {
            stages.push(doc! { "$set": { "display_name": { "$literal": name } } });
        }
        if let Some(segment) = segment {
            let value = segment.as_deref().map_or(Bson::Null, Bson::from);
            stages.push(doc! { "$set": { "segment": { "$literal": value } } });
        }
        for (key, value) in attributes {
            let input = doc! { "$ifNull": [ "$attributes", {} ] };
            let field = doc! { "$literal": key };
            let attributes = if value.is_null() {
                // `$setField` to `$$REMOVE` is what `$unsetField` abbreviates (MongoDB
                // 5.0+); SecantusDB knows only this form (docs/MONGODB.md).
                doc! { "$setField": { "field": field, "input": input, "value": "$$REMOVE" } }
            } else {
                let value = bson::serialize_to_bson(value).map_err(|e| {
                    StoreError::Unavailable(format!("encoding attribute `{key}`: {e}"))
                })?;
                doc! { "$setField": { "field": field, "input": input, "value": { "$literal": value } } }
            };
            stages.push(doc! { "$set": { "attributes": attributes } });
        }
        stages.push(doc! { "$set": { "updated_at": to_datetime(now) } });
        Ok(stages)
    }

    /// The customer `id` unless its display name already is `name`.
    pub(crate) fn name_differs(id: &CustomerId, name: &str) -> Document {
        doc! { "_id": id.as_str(), "display_name": { "$ne": name } }
    }

    /// Sets the display name.
    pub(crate) fn set_name(name: &str, now: Timestamp) -> Document {
        doc! { "$set": { "display_name": name, "updated_at": to_datetime(now) } }
    }
}

/// One identity of a customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct IdentityDoc {
    #[serde(rename = "_id")]
    pub(crate) id: ObjectId,
    pub(crate) schema_version: i32,
    pub(crate) customer_id: String,
    pub(crate) channel: String,
    pub(crate) subject: String,
    pub(crate) verified: bool,
    pub(crate) created_at: DateTime,
    /// The verified email the platform last reported, trimmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
    /// `email` lowercased: the case-insensitive lookup key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) email_folded: Option<String>,
    /// The verified phone, normalized (`+` and digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) phone: Option<String>,
    /// Who asserted the identity (`platform` when absent: documents from before issue 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) source: Option<String>,
}

/// A reported verified email, trimmed; `None` when absent or blank.
pub(crate) fn verified_email(identity: &ExternalIdentity) -> Option<&str> {
    identity
        .verified_email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
}

/// The case-insensitive lookup key of an email.
pub(crate) fn fold_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl IdentityDoc {
    /// A new identity of `customer`, first seen `now`.
    pub(crate) fn new(customer: &CustomerId, identity: &ExternalIdentity, now: Timestamp) -> Self {
        Self {
            id: ObjectId::new(),
            schema_version: SCHEMA_VERSION,
            customer_id: customer.as_str().to_owned(),
            channel: identity.channel.as_str().to_owned(),
            subject: identity.subject.clone(),
            verified: identity.verified,
            created_at: to_datetime(now),
            email: verified_email(identity).map(str::to_owned),
            email_folded: verified_email(identity).map(fold_email),
            phone: identity
                .verified_phone
                .as_deref()
                .and_then(VerifiedKey::phone)
                .map(|k| k.value),
            source: Some("platform".to_owned()),
        }
    }

    /// The document of a record.
    #[cfg(test)]
    pub(crate) fn from_record(record: &IdentityRecord) -> Self {
        let IdentityRecord {
            customer_id,
            channel,
            subject,
            verified,
            created_at,
            source,
            verified_email,
            verified_phone,
        } = record;
        Self {
            id: ObjectId::new(),
            schema_version: SCHEMA_VERSION,
            customer_id: customer_id.as_str().to_owned(),
            channel: channel.as_str().to_owned(),
            subject: subject.clone(),
            verified: *verified,
            created_at: to_datetime(*created_at),
            email: verified_email.clone(),
            email_folded: verified_email.clone(),
            phone: verified_phone.clone(),
            source: Some(source.clone()),
        }
    }

    /// The record as the core sees it.
    pub(crate) fn into_record(self) -> Result<IdentityRecord, StoreError> {
        check_schema("identity", self.schema_version)?;
        Ok(IdentityRecord {
            customer_id: self.customer_id.into(),
            channel: self.channel.into(),
            subject: self.subject,
            verified: self.verified,
            created_at: from_datetime(self.created_at)?,
            source: self.source.unwrap_or_else(|| "platform".to_owned()),
            verified_email: self.email_folded,
            verified_phone: self.phone,
        })
    }

    /// The identity `(channel, subject)`.
    pub(crate) fn by_key(identity: &ExternalIdentity) -> Document {
        doc! { "channel": identity.channel.as_str(), "subject": identity.subject.as_str() }
    }

    /// The identity `(channel, subject)` while it is unverified.
    pub(crate) fn unverified(identity: &ExternalIdentity) -> Document {
        let mut filter = Self::by_key(identity);
        filter.insert("verified", false);
        filter
    }

    /// Marks an identity verified.
    pub(crate) fn set_verified() -> Document {
        doc! { "$set": { "verified": true } }
    }

    /// The identity `(channel, subject)` unless its email already is `email`.
    pub(crate) fn email_differs(identity: &ExternalIdentity, email: &str) -> Document {
        let mut filter = Self::by_key(identity);
        filter.insert("email", doc! { "$ne": email });
        filter
    }

    /// Sets the verified email.
    pub(crate) fn set_email(email: &str) -> Document {
        doc! { "$set": { "email": email, "email_folded": fold_email(email) } }
    }

    /// Identities carrying `email`, case-insensitively.
    pub(crate) fn with_email(email: &str) -> Document {
        doc! { "email_folded": fold_email(email) }
    }

    /// Identities carrying verified `key` (its partial index) of customers other than
    /// `except`.
    pub(crate) fn carrying(key: &VerifiedKey, except: &CustomerId) -> Document {
        let mut filter = match key.kind {
            KeyKind::Email => doc! { "email_folded": fold_email(&key.value) },
            KeyKind::Phone => doc! { "phone": &key.value },
        };
        filter.insert("customer_id", doc! { "$ne": except.as_str() });
        filter
    }

    /// The identity `(channel, subject)` given as parts.
    pub(crate) fn by_parts(channel: &ChannelId, subject: &str) -> Document {
        doc! { "channel": channel.as_str(), "subject": subject }
    }

    /// Projection of the customer only.
    pub(crate) fn customer_projection() -> Document {
        doc! { "customer_id": 1 }
    }

    /// The customer an identity document points at.
    pub(crate) fn customer_of(doc: &Document) -> Result<CustomerId, StoreError> {
        doc.get_str("customer_id")
            .map(CustomerId::from)
            .map_err(|e| StoreError::Corrupt(format!("identity without a customer_id: {e}")))
    }

    /// The identities of `customer`.
    pub(crate) fn of_customer(customer: &CustomerId) -> Document {
        doc! { "customer_id": customer.as_str() }
    }

    /// Oldest first.
    pub(crate) fn oldest_first() -> Document {
        doc! { "created_at": 1, "_id": 1 }
    }
}

/// Index models of the customers collection (the `_id` index serves every access path).
pub(crate) fn customer_indexes() -> Vec<IndexModel> {
    Vec::new()
}

/// Index models of the identities collection.
pub(crate) fn identity_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "phone": 1 })
            .options(
                IndexOptions::builder()
                    .name("identities_verified_phone".to_owned())
                    .build(),
            )
            .build(),
        IndexModel::builder()
            .keys(doc! { "channel": 1, "subject": 1 })
            .options(
                IndexOptions::builder()
                    .name("identities_key".to_owned())
                    .unique(true)
                    .build(),
            )
            .build(),
        IndexModel::builder()
            .keys(doc! { "customer_id": 1, "created_at": 1, "_id": 1 })
            .options(
                IndexOptions::builder()
                    .name("identities_customer".to_owned())
                    .build(),
            )
            .build(),
        IndexModel::builder()
            .keys(doc! { "email_folded": 1 })
            .options(
                IndexOptions::builder()
                    .name("identities_verified_email".to_owned())
                    .build(),
            )
            .build(),
    ]
}
