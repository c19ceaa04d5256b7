//! The channels' key-value space (`kv`, unique on `(namespace, key)`) and the reserved
//! `link_codes` collection.
//!
//! `link_codes` will hold the short-lived single-use codes of identity linking (issue 7);
//! only its TTL index exists so far: MongoDB deletes a code once its `expires_at` passed
//! (the TTL monitor runs about once a minute, so readers must still check `expires_at`).

use super::{SCHEMA_VERSION, check_schema};
use bson::oid::ObjectId;
use bson::{Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tandem_core::store::StoreError;

/// The key-value collection.
pub(crate) const KV: &str = "kv";
/// The link codes collection (reserved).
pub(crate) const LINK_CODES: &str = "link_codes";

/// One key-value pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KvDoc {
    #[serde(rename = "_id")]
    pub(crate) id: ObjectId,
    pub(crate) schema_version: i32,
    pub(crate) namespace: String,
    pub(crate) key: String,
    pub(crate) value: String,
}

impl KvDoc {
    /// A pair (the shape an upsert creates).
    #[cfg(test)]
    pub(crate) fn new(namespace: &str, key: &str, value: &str) -> Self {
        Self {
            id: ObjectId::new(),
            schema_version: SCHEMA_VERSION,
            namespace: namespace.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
        }
    }

    /// The value of a stored pair.
    pub(crate) fn into_value(self) -> Result<String, StoreError> {
        check_schema("key-value pair", self.schema_version)?;
        Ok(self.value)
    }

    /// The pair `(namespace, key)`.
    pub(crate) fn by_key(namespace: &str, key: &str) -> Document {
        doc! { "namespace": namespace, "key": key }
    }

    /// Sets the value (with upsert, creates the pair).
    pub(crate) fn set(value: &str) -> Document {
        doc! {
            "$set": { "value": value, "schema_version": SCHEMA_VERSION },
        }
    }
}

/// Index models of the key-value collection.
pub(crate) fn kv_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "namespace": 1, "key": 1 })
            .options(
                IndexOptions::builder()
                    .name("kv_key".to_owned())
                    .unique(true)
                    .build(),
            )
            .build(),
    ]
}

/// Index models of the link codes collection: expiry by TTL.
pub(crate) fn link_code_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "expires_at": 1 })
            .options(
                IndexOptions::builder()
                    .name("link_codes_ttl".to_owned())
                    .expire_after(Duration::ZERO)
                    .build(),
            )
            .build(),
        // A customer's active codes (the limit checked when one is issued).
        IndexModel::builder()
            .keys(doc! { "customer_id": 1, "expires_at": 1 })
            .options(
                IndexOptions::builder()
                    .name("link_codes_customer".to_owned())
                    .build(),
            )
            .build(),
    ]
}
