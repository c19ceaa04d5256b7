//! Customer profiles beyond identity resolution (lookups by identity and email, profile
//! updates, a customer's conversations, business events) and channel reachability.

use crate::docs::conversations::ConversationDoc;
use crate::docs::customers::{CustomerDoc, IdentityDoc};
use crate::docs::profiles::{CustomerEventDoc, ReachabilityDoc};
use crate::docs::{decode, encode, id_only};
use crate::error::{classify, is_duplicate_key};
use crate::records::{collect, customer, limit};
use crate::schema::Collections;
use futures::TryStreamExt;
use mongodb::options::ReturnDocument;
use std::collections::BTreeSet;
use tandem_core::store::{
    ConversationRecord, CustomerEvent, CustomerRecord, CustomerUpdate, StoreError,
};
use tandem_model::{ChannelId, CustomerId, Reachability, Timestamp};

/// See [`Identities::customer_by_identity`](tandem_core::store::Identities::customer_by_identity).
pub(crate) async fn customer_by_identity(
    c: &Collections,
    channel: &ChannelId,
    subject: &str,
) -> Result<Option<CustomerRecord>, StoreError> {
    let identity = c
        .identities
        .find_one(IdentityDoc::by_parts(channel, subject))
        .await
        .map_err(classify)?;
    match identity {
        Some(found) => customer(c, &IdentityDoc::customer_of(&found)?).await,
        None => Ok(None),
    }
}

/// See [`Identities::customers_by_email`](tandem_core::store::Identities::customers_by_email):
/// the owners of identities with this verified email, oldest customer first.
pub(crate) async fn customers_by_email(
    c: &Collections,
    email: &str,
) -> Result<Vec<CustomerRecord>, StoreError> {
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
}

/// See [`Identities::update_customer`](tandem_core::store::Identities::update_customer): one atomic
/// update of the customer document.
pub(crate) async fn update_customer(
    c: &Collections,
    id: &CustomerId,
    update: &CustomerUpdate,
    now: Timestamp,
) -> Result<Option<CustomerRecord>, StoreError> {
    let updated = c
        .customers
        .find_one_and_update(CustomerDoc::by_id(id), CustomerDoc::update(update, now)?)
        .return_document(ReturnDocument::After)
        .await
        .map_err(classify)?;
    updated
        .map(|d| decode::<CustomerDoc>("customer", d)?.into_record())
        .transpose()
}

/// See [`Conversations::conversations_of`](tandem_core::store::Conversations::conversations_of).
pub(crate) async fn conversations_of(
    c: &Collections,
    customer: &CustomerId,
    max: usize,
) -> Result<Vec<ConversationRecord>, StoreError> {
    if max == 0 {
        return Ok(Vec::new());
    }
    let cursor = c
        .conversations
        .find(ConversationDoc::of_customer(customer))
        .sort(ConversationDoc::newest_first())
        .limit(limit(max))
        .await
        .map_err(classify)?;
    collect(cursor, |d| {
        decode::<ConversationDoc>("conversation", d)?.into_record()
    })
    .await
}

/// See [`Identities::record_customer_event`](tandem_core::store::Identities::record_customer_event).
/// An unknown customer is a [`StoreError::Conflict`] (as the SQLite store's foreign key).
pub(crate) async fn record_customer_event(
    c: &Collections,
    event: &CustomerEvent,
) -> Result<bool, StoreError> {
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
}

/// See [`Identities::customer_events`](tandem_core::store::Identities::customer_events).
pub(crate) async fn customer_events(
    c: &Collections,
    customer: &CustomerId,
    since: Timestamp,
) -> Result<Vec<CustomerEvent>, StoreError> {
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
}

/// See [`WorkQueue::set_reachability`](tandem_core::store::WorkQueue::set_reachability): one
/// upsert filtered on "stored report not newer"; when a newer report is stored the
/// upsert's insert hits the unique `(channel, subject)` index, meaning "not applied".
pub(crate) async fn set_reachability(
    c: &Collections,
    channel: &ChannelId,
    subject: &str,
    reachability: &Reachability,
) -> Result<bool, StoreError> {
    let (filter, update) = ReachabilityDoc::upsert_if_newer(channel, subject, reachability);
    // The second try settles a race of two first reports of one identity.
    for _ in 0..2 {
        match c
            .reachability
            .update_one(filter.clone(), update.clone())
            .upsert(true)
            .await
        {
            Ok(_) => return Ok(true),
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(classify(e)),
        }
    }
    Ok(false)
}

/// See [`WorkQueue::reachability`](tandem_core::store::WorkQueue::reachability).
pub(crate) async fn reachability(
    c: &Collections,
    channel: &ChannelId,
    subject: &str,
) -> Result<Option<Reachability>, StoreError> {
    let doc = c
        .reachability
        .find_one(ReachabilityDoc::by_key(channel, subject))
        .await
        .map_err(classify)?;
    doc.map(|d| decode::<ReachabilityDoc>("reachability", d)?.into_reachability())
        .transpose()
}
