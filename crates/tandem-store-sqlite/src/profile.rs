//! Customer profiles beyond identity resolution: lookups by identity and email, profile
//! updates, a customer's conversations, and business events.

use crate::rows::{
    self, col, col_json, col_ts, limit, query_all, query_opt, sql_error, to_json, to_ms,
};
use rusqlite::{Connection, params};
use std::collections::BTreeMap;
use tandem_core::store::{
    ConversationRecord, CustomerEvent, CustomerRecord, CustomerUpdate, StoreError,
};
use tandem_model::{ChannelId, CustomerId, Timestamp};

/// The owner of an identity.
pub(crate) fn customer_by_identity(
    conn: &Connection,
    channel: &ChannelId,
    subject: &str,
) -> Result<Option<CustomerRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM customers WHERE id = (SELECT customer_id FROM identities WHERE channel = ?1 AND subject = ?2)",
        rows::CUSTOMER_COLUMNS
    );
    query_opt(
        conn,
        &sql,
        params![channel.as_str(), subject],
        rows::customer,
    )
}

/// Customers with a verified email, case-insensitive.
pub(crate) fn customers_by_email(
    conn: &Connection,
    email: &str,
) -> Result<Vec<CustomerRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM customers WHERE id IN
           (SELECT customer_id FROM identities WHERE email = ?1 COLLATE NOCASE) ORDER BY created_at",
        rows::CUSTOMER_COLUMNS
    );
    query_all(conn, &sql, params![email.trim()], rows::customer)
}

/// Applies a profile update in the writer.
pub(crate) fn update_customer(
    conn: &Connection,
    id: &CustomerId,
    update: &CustomerUpdate,
    now: Timestamp,
) -> Result<Option<CustomerRecord>, StoreError> {
    let Some(current) = crate::reads::customer(conn, id)? else {
        return Ok(None);
    };
    let mut attributes: BTreeMap<String, serde_json::Value> = current.attributes.clone();
    for (k, v) in &update.attributes {
        if v.is_null() {
            attributes.remove(k);
        } else {
            attributes.insert(k.clone(), v.clone());
        }
    }
    let name = update.display_name.clone().or(current.display_name);
    let segment = match &update.segment {
        Some(s) => s.clone(),
        None => current.segment,
    };
    let attributes = to_json("attributes", &attributes)?;
    conn.prepare_cached(
        "UPDATE customers SET display_name = ?2, segment = ?3, attributes = ?4, updated_at = ?5 WHERE id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(params![id.as_str(), name, segment, attributes, to_ms(now)]))
    .map_err(sql_error)?;
    crate::reads::customer(conn, id)
}

/// A customer's conversations, newest first.
pub(crate) fn conversations_of(
    conn: &Connection,
    customer: &CustomerId,
    max: usize,
) -> Result<Vec<ConversationRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM conversations WHERE customer_id = ?1 ORDER BY opened_at DESC, id DESC LIMIT ?2",
        rows::CONVERSATION_COLUMNS
    );
    query_all(
        conn,
        &sql,
        params![customer.as_str(), limit(max)],
        rows::conversation,
    )
}

/// Records an event; false when its id exists.
pub(crate) fn record_customer_event(
    conn: &Connection,
    event: &CustomerEvent,
) -> Result<bool, StoreError> {
    let data = to_json("event data", &event.data)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO customer_events (id, customer_id, name, at, data) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                event.id,
                event.customer_id.as_str(),
                event.name,
                to_ms(event.at),
                data
            ])
        })
        .map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                StoreError::Conflict("unknown customer".into())
            }
            other => sql_error(other),
        })?;
    Ok(inserted == 1)
}

/// A customer's events since a time, oldest first.
pub(crate) fn customer_events(
    conn: &Connection,
    customer: &CustomerId,
    since: Timestamp,
) -> Result<Vec<CustomerEvent>, StoreError> {
    query_all(
        conn,
        "SELECT id, customer_id, name, at, data FROM customer_events
         WHERE customer_id = ?1 AND at >= ?2 ORDER BY at, id",
        params![customer.as_str(), to_ms(since)],
        |row| {
            Ok(CustomerEvent {
                id: col(row, 0)?,
                customer_id: CustomerId::new(col::<String>(row, 1)?),
                name: col(row, 2)?,
                at: col_ts(row, 3)?,
                data: col_json(row, 4, "event data")?,
            })
        },
    )
}
