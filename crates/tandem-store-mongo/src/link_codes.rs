//! Link codes in the `link_codes` collection: `_id` is the code, the TTL index on
//! `expires_at` removes expired ones (they then read as unknown). Redemption is one
//! atomic `findOneAndUpdate`, so a code is used once. The active-code limit is a count
//! before the insert: two concurrent issues for one customer can exceed it by one
//! (acceptable for a rate limit; no transaction needed).

use crate::docs::to_datetime;
use crate::error::{classify, is_duplicate_key};
use crate::schema::Collections;
use bson::{Bson, DateTime, Document, doc};
use tandem_core::store::{LinkCode, LinkCodeIssue, LinkCodeRedemption, StoreError};
use tandem_model::{CustomerId, Timestamp};

/// The codes of `customer` still usable at `now` (index `link_codes_customer`).
pub(crate) fn active_of(customer: &CustomerId, now: DateTime) -> Document {
    doc! {
        "customer_id": customer.as_str(),
        "expires_at": { "$gt": now },
        "used_at": Bson::Null,
    }
}

/// See [`Identities::create_link_code`](tandem_core::store::Identities::create_link_code).
pub(crate) async fn create(
    c: &Collections,
    code: &LinkCode,
    max_active: usize,
) -> Result<LinkCodeIssue, StoreError> {
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
        .count_documents(active_of(&code.customer_id, now))
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
}

/// See [`Identities::redeem_link_code`](tandem_core::store::Identities::redeem_link_code).
pub(crate) async fn redeem(
    c: &Collections,
    code: &str,
    redeemer: &str,
    now: Timestamp,
) -> Result<LinkCodeRedemption, StoreError> {
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
}
