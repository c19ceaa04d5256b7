//! Business events about customers (`customer_events`) and the reachability of channel
//! identities (`reachability`).
//!
//! An event's `_id` is its id (the poster's idempotency key), listed per customer by
//! `(customer_id, at, _id)`. A reachability report is unique on `(channel, subject)`; a
//! report replaces the stored one only when it is not older.

use super::{SCHEMA_VERSION, check_schema, from_datetime, to_datetime};
use bson::oid::ObjectId;
use bson::{Bson, DateTime, Document, doc};
use mongodb::IndexModel;
use mongodb::options::IndexOptions;
use serde::{Deserialize, Serialize};
use tandem_core::store::{CustomerEvent, StoreError};
use tandem_model::{ChannelId, CustomerId, Reachability, Timestamp};

/// The customer events collection.
pub(crate) const CUSTOMER_EVENTS: &str = "customer_events";
/// The reachability collection.
pub(crate) const REACHABILITY: &str = "reachability";

/// A business event about a customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CustomerEventDoc {
    #[serde(rename = "_id")]
    pub(crate) id: String,
    pub(crate) schema_version: i32,
    pub(crate) customer_id: String,
    pub(crate) name: String,
    pub(crate) at: DateTime,
    /// Free-form details, stored as a BSON value.
    #[serde(default)]
    pub(crate) data: serde_json::Value,
}

impl CustomerEventDoc {
    /// The document of an event.
    pub(crate) fn new(event: &CustomerEvent) -> Self {
        let CustomerEvent {
            id,
            customer_id,
            name,
            at,
            data,
        } = event;
        Self {
            id: id.clone(),
            schema_version: SCHEMA_VERSION,
            customer_id: customer_id.as_str().to_owned(),
            name: name.clone(),
            at: to_datetime(*at),
            data: data.clone(),
        }
    }

    /// The event as the core sees it.
    pub(crate) fn into_event(self) -> Result<CustomerEvent, StoreError> {
        check_schema("customer event", self.schema_version)?;
        Ok(CustomerEvent {
            id: self.id,
            customer_id: self.customer_id.into(),
            name: self.name,
            at: from_datetime(self.at)?,
            data: self.data,
        })
    }

    /// A customer's events at or after `since`.
    pub(crate) fn of_customer_since(customer: &CustomerId, since: Timestamp) -> Document {
        doc! { "customer_id": customer.as_str(), "at": { "$gte": to_datetime(since) } }
    }

    /// Oldest first.
    pub(crate) fn oldest_first() -> Document {
        doc! { "at": 1, "_id": 1 }
    }
}

/// The newest reachability report of one channel identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReachabilityDoc {
    #[serde(rename = "_id")]
    pub(crate) id: ObjectId,
    pub(crate) schema_version: i32,
    pub(crate) channel: String,
    pub(crate) subject: String,
    pub(crate) reachable: bool,
    pub(crate) reason: String,
    pub(crate) at: DateTime,
}

impl ReachabilityDoc {
    /// The document of a report (the shape [`ReachabilityDoc::upsert_if_newer`] creates).
    #[cfg(test)]
    pub(crate) fn new(channel: &ChannelId, subject: &str, r: &Reachability) -> Self {
        Self {
            id: ObjectId::new(),
            schema_version: SCHEMA_VERSION,
            channel: channel.as_str().to_owned(),
            subject: subject.to_owned(),
            reachable: r.reachable,
            reason: r.reason.clone(),
            at: to_datetime(r.at),
        }
    }

    /// The report as the core sees it.
    pub(crate) fn into_reachability(self) -> Result<Reachability, StoreError> {
        check_schema("reachability", self.schema_version)?;
        Ok(Reachability {
            reachable: self.reachable,
            reason: self.reason,
            at: from_datetime(self.at)?,
        })
    }

    /// The report of `(channel, subject)`.
    pub(crate) fn by_key(channel: &ChannelId, subject: &str) -> Document {
        doc! { "channel": channel.as_str(), "subject": subject }
    }

    /// Filter and update storing `r` unless a newer report is stored. Used with upsert: when
    /// a newer report exists the upsert's insert hits the unique index (duplicate key),
    /// which means "not applied".
    pub(crate) fn upsert_if_newer(
        channel: &ChannelId,
        subject: &str,
        r: &Reachability,
    ) -> (Document, Document) {
        let at = to_datetime(r.at);
        let mut filter = Self::by_key(channel, subject);
        filter.insert("at", doc! { "$lte": at });
        let update = doc! {
            "$set": {
                "schema_version": SCHEMA_VERSION,
                "reachable": r.reachable,
                "reason": r.reason.as_str(),
                "at": Bson::DateTime(at),
            },
        };
        (filter, update)
    }
}

/// Index models of the customer events collection.
pub(crate) fn customer_event_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "customer_id": 1, "at": 1, "_id": 1 })
            .options(
                IndexOptions::builder()
                    .name("customer_events_customer".to_owned())
                    .build(),
            )
            .build(),
    ]
}

/// Index models of the reachability collection.
pub(crate) fn reachability_indexes() -> Vec<IndexModel> {
    vec![
        IndexModel::builder()
            .keys(doc! { "channel": 1, "subject": 1 })
            .options(
                IndexOptions::builder()
                    .name("reachability_key".to_owned())
                    .unique(true)
                    .build(),
            )
            .build(),
    ]
}
