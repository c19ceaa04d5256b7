//! Link codes: short-lived single-use codes that link a channel identity to a customer.
//! Both operations run on the writer, so the active-code limit and the single use hold
//! under concurrent calls.

use crate::rows::{sql_error, to_ms};
use rusqlite::{Connection, OptionalExtension, params};
use tandem_core::store::{LinkCode, LinkCodeIssue, LinkCodeRedemption, StoreError};
use tandem_model::{CustomerId, Timestamp};

/// See [`Identities::create_link_code`](tandem_core::store::Identities::create_link_code).
pub(crate) fn create(
    conn: &Connection,
    code: &LinkCode,
    max_active: usize,
) -> Result<LinkCodeIssue, StoreError> {
    let customer = code.customer_id.as_str();
    let known: Option<i64> = conn
        .prepare_cached("SELECT 1 FROM customers WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row(params![customer], |row| row.get(0))
                .optional()
        })
        .map_err(sql_error)?;
    if known.is_none() {
        return Ok(LinkCodeIssue::UnknownCustomer);
    }
    let now = to_ms(code.created_at);
    let active: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM link_codes
             WHERE customer_id = ?1 AND used_at IS NULL AND expires_at > ?2",
        )
        .and_then(|mut stmt| stmt.query_row(params![customer, now], |row| row.get(0)))
        .map_err(sql_error)?;
    if usize::try_from(active).unwrap_or(usize::MAX) >= max_active {
        return Ok(LinkCodeIssue::TooMany);
    }
    let inserted = conn
        .prepare_cached(
            "INSERT INTO link_codes (code, customer_id, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (code) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![code.code, customer, now, to_ms(code.expires_at)])
        })
        .map_err(sql_error)?;
    if inserted == 0 {
        return Err(StoreError::Conflict("link code already exists".into()));
    }
    Ok(LinkCodeIssue::Issued)
}

/// See [`Identities::redeem_link_code`](tandem_core::store::Identities::redeem_link_code).
pub(crate) fn redeem(
    conn: &Connection,
    code: &str,
    redeemer: &str,
    now: Timestamp,
) -> Result<LinkCodeRedemption, StoreError> {
    let now = to_ms(now);
    let redeemed: Option<String> = conn
        .prepare_cached(
            "UPDATE link_codes SET used_at = ?2, used_by = ?3
             WHERE code = ?1 AND used_at IS NULL AND expires_at > ?2
             RETURNING customer_id",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![code, now, redeemer], |row| row.get(0))
                .optional()
        })
        .map_err(sql_error)?;
    if let Some(customer) = redeemed {
        return Ok(LinkCodeRedemption::Redeemed(CustomerId::new(customer)));
    }
    let stale: Option<(String, bool, Option<String>)> = conn
        .prepare_cached(
            "SELECT customer_id, used_at IS NOT NULL, used_by FROM link_codes WHERE code = ?1",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![code], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
        })
        .map_err(sql_error)?;
    Ok(match stale {
        Some((customer, true, by)) if by.as_deref() == Some(redeemer) => {
            LinkCodeRedemption::Redeemed(CustomerId::new(customer))
        }
        Some((customer, true, _)) => LinkCodeRedemption::AlreadyUsed(CustomerId::new(customer)),
        Some((_, false, _)) => LinkCodeRedemption::Expired,
        None => LinkCodeRedemption::Unknown,
    })
}
