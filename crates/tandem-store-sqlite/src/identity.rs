//! The verified identity graph: identity resolution with deterministic merges on verified
//! keys, merge and unmerge, link and unlink, the audit trail, suggested links and the GDPR
//! erasure. Every write runs in the writer (one savepoint per command), so each operation
//! is atomic and concurrent resolutions are serialized: two channels carrying the same
//! verified key at the same instant end with one customer.

use crate::reads;
use crate::rows::{
    col, col_json, col_opt_ts, col_ts, query_all, query_opt, sql_error, to_json, to_ms,
};
use rusqlite::{Connection, OptionalExtension, params};
use tandem_core::store::{
    AuditEntry, AuditKind, ConversationState, CustomerRecord, ERASED_TEXT, ErasureReport,
    IdentityRecord, IdentityRef, KeyKind, MergeMoves, MergeRecord, MergeTrigger, StoreError,
    SuggestedLink, VerifiedKey, check_merge, merge_order,
};
use tandem_model::{ChannelId, ConversationId, CustomerId, ExternalIdentity, Timestamp};

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn kind_str(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Email => "email",
        KeyKind::Phone => "phone",
    }
}

fn parse_kind(s: &str) -> Result<KeyKind, StoreError> {
    match s {
        "email" => Ok(KeyKind::Email),
        "phone" => Ok(KeyKind::Phone),
        other => Err(StoreError::Corrupt(format!("unknown key kind `{other}`"))),
    }
}

fn parse_audit_kind(s: &str) -> Result<AuditKind, StoreError> {
    Ok(match s {
        "merge" => AuditKind::Merge,
        "unmerge" => AuditKind::Unmerge,
        "link" => AuditKind::Link,
        "unlink" => AuditKind::Unlink,
        "erase" => AuditKind::Erase,
        other => return Err(StoreError::Corrupt(format!("unknown audit kind `{other}`"))),
    })
}

fn exec(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(p))
        .map_err(sql_error)
}

/// The customers (other than `except`) one of whose identities holds `key`, oldest first.
fn holders(
    conn: &Connection,
    key: &VerifiedKey,
    except: Option<&CustomerId>,
) -> Result<Vec<CustomerId>, StoreError> {
    let column = match key.kind {
        KeyKind::Email => "email = ?1 COLLATE NOCASE",
        KeyKind::Phone => "phone = ?1",
    };
    let sql = format!(
        "SELECT id FROM customers WHERE id IN (SELECT customer_id FROM identities WHERE {column})
           AND id IS NOT ?2 ORDER BY created_at, id"
    );
    query_all(
        conn,
        &sql,
        params![key.value, except.map(CustomerId::as_str)],
        |row| Ok(CustomerId::new(col::<String>(row, 0)?)),
    )
}

/// Whether an undone merge or an unlink separated `a` and `b`: they are not merged again
/// automatically.
fn separated(conn: &Connection, a: &CustomerId, b: &CustomerId) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "SELECT 1 FROM identity_audit
         WHERE ((kind = 'merge' AND unmerged_at IS NOT NULL) OR kind = 'unlink')
           AND ((customer_id = ?1 AND other_customer_id = ?2) OR (customer_id = ?2 AND other_customer_id = ?1))",
    )
    .and_then(|mut stmt| stmt.exists(params![a.as_str(), b.as_str()]))
    .map_err(sql_error)
}

fn record_suggestion(
    conn: &Connection,
    customer: &CustomerId,
    other: &CustomerId,
    key: &VerifiedKey,
    reason: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT OR IGNORE INTO suggested_links (customer_id, other_customer_id, key_kind, key_value, reason, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![customer.as_str(), other.as_str(), kind_str(key.kind), key.value, reason, to_ms(now)],
    )?;
    Ok(())
}

/// Stores the verified facts an identity carries (never clears one it does not carry).
fn store_facts(
    conn: &Connection,
    channel: &str,
    subject: &str,
    keys: &[VerifiedKey],
) -> Result<(), StoreError> {
    for key in keys {
        let sql = match key.kind {
            KeyKind::Email => {
                "UPDATE identities SET email = ?3 WHERE channel = ?1 AND subject = ?2 AND email IS NOT ?3"
            }
            KeyKind::Phone => {
                "UPDATE identities SET phone = ?3 WHERE channel = ?1 AND subject = ?2 AND phone IS NOT ?3"
            }
        };
        exec(conn, sql, params![channel, subject, key.value])?;
    }
    Ok(())
}

fn insert_audit(conn: &Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    let record = to_json("audit detail", &entry.detail)?;
    exec(
        conn,
        "INSERT INTO identity_audit (id, kind, customer_id, other_customer_id, actor, at, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            entry.id,
            entry.kind.as_str(),
            entry.customer_id.as_str(),
            entry.other_customer_id.as_ref().map(CustomerId::as_str),
            entry.actor,
            to_ms(entry.at),
            record
        ],
    )?;
    Ok(())
}

fn created_at(conn: &Connection, id: &CustomerId) -> Result<Option<(i64, String)>, StoreError> {
    conn.prepare_cached("SELECT created_at, merged_into FROM customers WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row(params![id.as_str()], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, Option<String>>(1)?))
            })
            .optional()
        })
        .map_err(sql_error)
        .map(|found| found.map(|(at, merged)| (at, merged.unwrap_or_default())))
}

/// Merges every other holder of `keys` into `customer` (or `customer` into an older
/// holder). Returns the customer that remains.
fn absorb(
    conn: &Connection,
    mut customer: CustomerId,
    keys: &[VerifiedKey],
    actor: &str,
    source: &str,
    now: Timestamp,
) -> Result<CustomerId, StoreError> {
    for key in keys {
        for other in holders(conn, key, Some(&customer))? {
            if separated(conn, &customer, &other)? {
                record_suggestion(conn, &customer, &other, key, "unmerged_before", now)?;
                continue;
            }
            let (Some(mine), Some(theirs)) =
                (created_at(conn, &customer)?, created_at(conn, &other)?)
            else {
                continue;
            };
            let (survivor, merged) = merge_order((&customer, mine.0), false, (&other, theirs.0));
            let trigger = MergeTrigger::verified_key(actor, key, source);
            merge(conn, &survivor, &merged, &trigger, now)?;
            customer = survivor;
        }
    }
    Ok(customer)
}

/// What [`resolve_customer`] returns for an identity it would not change: known, with the
/// same verified flag and facts, no other customer holding its keys, and the same display
/// name. Runs on a read connection, so that a returning customer's message costs no write;
/// `None` means "take the write path" (which decides again, serialized).
pub(crate) fn resolved_unchanged(
    conn: &Connection,
    identity: &ExternalIdentity,
) -> Result<Option<CustomerRecord>, StoreError> {
    let row: Option<(String, bool, Option<String>, Option<String>)> = conn
        .prepare_cached(
            "SELECT customer_id, verified, email, phone FROM identities WHERE channel = ?1 AND subject = ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(
                params![identity.channel.as_str(), identity.subject.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()
        })
        .map_err(sql_error)?;
    let Some((id, verified, email, phone)) = row else {
        return Ok(None);
    };
    if identity.verified && !verified {
        return Ok(None);
    }
    let keys = VerifiedKey::of(identity);
    let id = CustomerId::new(id);
    for key in &keys {
        let stored = match key.kind {
            KeyKind::Email => &email,
            KeyKind::Phone => &phone,
        };
        if stored.as_deref() != Some(key.value.as_str())
            || !holders(conn, key, Some(&id))?.is_empty()
        {
            return Ok(None);
        }
    }
    let Some(customer) = reads::customer(conn, &id)? else {
        return Ok(None);
    };
    if identity
        .display_name
        .as_ref()
        .is_some_and(|name| customer.display_name.as_ref() != Some(name))
    {
        return Ok(None);
    }
    Ok(Some(customer))
}

/// See [`Identities::resolve_customer`](tandem_core::store::Identities::resolve_customer).
pub(crate) fn resolve_customer(
    conn: &Connection,
    identity: &ExternalIdentity,
    now: Timestamp,
) -> Result<CustomerRecord, StoreError> {
    let now_ms = to_ms(now);
    let channel = identity.channel.as_str();
    let subject = identity.subject.as_str();
    let keys = VerifiedKey::of(identity);
    let known: Option<String> = conn
        .prepare_cached("SELECT customer_id FROM identities WHERE channel = ?1 AND subject = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![channel, subject], |row| row.get(0))
                .optional()
        })
        .map_err(sql_error)?;
    let id = match known {
        Some(id) => {
            if identity.verified {
                exec(
                    conn,
                    "UPDATE identities SET verified = 1 WHERE channel = ?1 AND subject = ?2 AND verified = 0",
                    params![channel, subject],
                )?;
            }
            CustomerId::new(id)
        }
        None => {
            // A new identity carrying a verified key joins the key's (oldest) holder.
            let mut joined = None;
            for key in &keys {
                if let Some(holder) = holders(conn, key, None)?.into_iter().next() {
                    joined = Some(holder);
                    break;
                }
            }
            let id = match joined {
                Some(id) => id,
                None => {
                    let id = CustomerId::generate();
                    exec(
                        conn,
                        "INSERT INTO customers (id, display_name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                        params![id.as_str(), identity.display_name, now_ms],
                    )?;
                    id
                }
            };
            exec(
                conn,
                "INSERT INTO identities (customer_id, channel, subject, verified, created_at, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'platform')",
                params![id.as_str(), channel, subject, identity.verified, now_ms],
            )?;
            id
        }
    };
    store_facts(conn, channel, subject, &keys)?;
    let id = absorb(
        conn,
        id,
        &keys,
        "verified_key",
        &format!("{channel}/{subject}"),
        now,
    )?;
    if let Some(name) = &identity.display_name {
        exec(
            conn,
            "UPDATE customers SET display_name = ?2, updated_at = ?3 WHERE id = ?1 AND display_name IS NOT ?2",
            params![id.as_str(), name, now_ms],
        )?;
    }
    reads::customer(conn, &id)?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "identity {channel}/{subject} points at a missing customer"
        ))
    })
}

fn ids_of(conn: &Connection, sql: &str, customer: &CustomerId) -> Result<Vec<String>, StoreError> {
    query_all(conn, sql, params![customer.as_str()], |row| col(row, 0))
}

/// See [`Identities::merge_customers`](tandem_core::store::Identities::merge_customers).
pub(crate) fn merge(
    conn: &Connection,
    survivor: &CustomerId,
    merged: &CustomerId,
    trigger: &MergeTrigger,
    now: Timestamp,
) -> Result<Option<MergeRecord>, StoreError> {
    check_merge(survivor, merged)?;
    let (Some(s), Some(m)) = (created_at(conn, survivor)?, created_at(conn, merged)?) else {
        return Ok(None);
    };
    if !s.1.is_empty() || !m.1.is_empty() {
        return Err(StoreError::Conflict(
            "one of the customers was already merged into another".into(),
        ));
    }
    let now_ms = to_ms(now);
    let identities = query_all(
        conn,
        "SELECT channel, subject FROM identities WHERE customer_id = ?1 ORDER BY id",
        params![merged.as_str()],
        |row| {
            Ok(IdentityRef {
                channel: ChannelId::new(col::<String>(row, 0)?),
                subject: col(row, 1)?,
            })
        },
    )?;
    let conversations: Vec<ConversationId> = ids_of(
        conn,
        "SELECT id FROM conversations WHERE customer_id = ?1 ORDER BY opened_at, id",
        merged,
    )?
    .into_iter()
    .map(ConversationId::new)
    .collect();
    let events = ids_of(
        conn,
        "SELECT id FROM customer_events WHERE customer_id = ?1 ORDER BY at, id",
        merged,
    )?;
    let closed_conversation = match (
        reads::open_conversation(conn, survivor)?,
        reads::open_conversation(conn, merged)?,
    ) {
        (Some(_), Some(open)) => {
            exec(
                conn,
                // `updated_at` stays (last activity), so that unmerge restores it exactly.
                "UPDATE conversations SET status = 'closed', closed_at = ?2, version = version + 1
                 WHERE id = ?1",
                params![open.id.as_str(), now_ms],
            )?;
            Some(open.id)
        }
        _ => None,
    };
    let (to, from) = (survivor.as_str(), merged.as_str());
    exec(
        conn,
        "UPDATE identities SET customer_id = ?1 WHERE customer_id = ?2",
        params![to, from],
    )?;
    exec(
        conn,
        "UPDATE conversations SET customer_id = ?1 WHERE customer_id = ?2",
        params![to, from],
    )?;
    exec(
        conn,
        "UPDATE transcript SET customer_id = ?1 WHERE customer_id = ?2",
        params![to, from],
    )?;
    exec(
        conn,
        "UPDATE escalations SET customer_id = ?1 WHERE customer_id = ?2",
        params![to, from],
    )?;
    exec(
        conn,
        "UPDATE customer_events SET customer_id = ?1 WHERE customer_id = ?2",
        params![to, from],
    )?;
    exec(
        conn,
        "UPDATE customers SET merged_into = ?1, updated_at = ?3 WHERE id = ?2",
        params![to, from, now_ms],
    )?;
    let moves = MergeMoves {
        identities,
        conversations,
        closed_conversation,
        events,
    };
    let record = MergeRecord::new(survivor, merged, trigger, moves, now);
    insert_audit(conn, &record.merge_audit()?)?;
    Ok(Some(record))
}

/// See [`Identities::unmerge`](tandem_core::store::Identities::unmerge).
pub(crate) fn unmerge(
    conn: &Connection,
    merge_id: &str,
    now: Timestamp,
) -> Result<Option<MergeRecord>, StoreError> {
    let found = query_opt(
        conn,
        "SELECT record, unmerged_at FROM identity_audit WHERE id = ?1 AND kind = 'merge'",
        params![merge_id],
        |row| {
            Ok((
                col_json::<MergeRecord>(row, 0, "merge record")?,
                col_opt_ts(row, 1)?,
            ))
        },
    )?;
    let Some((mut record, unmerged_at)) = found else {
        return Ok(None);
    };
    if unmerged_at.is_some() {
        return Err(StoreError::Conflict(format!(
            "merge {merge_id} was already undone"
        )));
    }
    let now_ms = to_ms(now);
    let (to, from) = (record.merged.as_str(), record.survivor.as_str());
    for identity in &record.identities {
        exec(
            conn,
            "UPDATE identities SET customer_id = ?1 WHERE channel = ?2 AND subject = ?3 AND customer_id = ?4",
            params![to, identity.channel.as_str(), identity.subject, from],
        )?;
    }
    for conversation in &record.conversations {
        let c = conversation.as_str();
        exec(
            conn,
            "UPDATE conversations SET customer_id = ?1 WHERE id = ?2 AND customer_id = ?3",
            params![to, c, from],
        )?;
        exec(
            conn,
            "UPDATE transcript SET customer_id = ?1 WHERE conversation_id = ?2 AND customer_id = ?3",
            params![to, c, from],
        )?;
        exec(
            conn,
            "UPDATE escalations SET customer_id = ?1 WHERE conversation_id = ?2 AND customer_id = ?3",
            params![to, c, from],
        )?;
    }
    for event in &record.events {
        exec(
            conn,
            "UPDATE customer_events SET customer_id = ?1 WHERE id = ?2 AND customer_id = ?3",
            params![to, event, from],
        )?;
    }
    if let Some(closed) = &record.closed_conversation
        && reads::open_conversation(conn, &record.merged)?.is_none()
    {
        exec(
            conn,
            "UPDATE conversations SET status = 'open', closed_at = NULL, version = version + 1
             WHERE id = ?1 AND customer_id = ?2 AND status = 'closed'",
            params![closed.as_str(), to],
        )?;
    }
    exec(
        conn,
        "UPDATE customers SET merged_into = NULL, updated_at = ?2 WHERE id = ?1",
        params![to, now_ms],
    )?;
    record.unmerged_at = Some(now);
    exec(
        conn,
        "UPDATE identity_audit SET unmerged_at = ?2, record = ?3 WHERE id = ?1",
        params![merge_id, now_ms, to_json("merge record", &record)?],
    )?;
    insert_audit(conn, &record.unmerge_audit(now)?)?;
    Ok(Some(record))
}

fn identity_record(
    conn: &Connection,
    channel: &str,
    subject: &str,
) -> Result<Option<IdentityRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM identities WHERE channel = ?1 AND subject = ?2",
        crate::rows::IDENTITY_COLUMNS
    );
    query_opt(conn, &sql, params![channel, subject], crate::rows::identity)
}

/// See [`Identities::link_identity`](tandem_core::store::Identities::link_identity).
pub(crate) fn link_identity(
    conn: &Connection,
    customer: &CustomerId,
    identity: &ExternalIdentity,
    source: &str,
    now: Timestamp,
) -> Result<Option<IdentityRecord>, StoreError> {
    match created_at(conn, customer)? {
        None => return Ok(None),
        Some((_, merged)) if !merged.is_empty() => {
            return Err(StoreError::Conflict(
                "the customer was merged into another".into(),
            ));
        }
        Some(_) => {}
    }
    let (channel, subject) = (identity.channel.as_str(), identity.subject.as_str());
    match identity_record(conn, channel, subject)? {
        Some(existing) if existing.customer_id != *customer => {
            return Err(StoreError::Conflict(
                "the identity belongs to another customer".into(),
            ));
        }
        Some(_) => {
            exec(
                conn,
                "UPDATE identities SET verified = 1 WHERE channel = ?1 AND subject = ?2",
                params![channel, subject],
            )?;
        }
        None => {
            exec(
                conn,
                "INSERT INTO identities (customer_id, channel, subject, verified, created_at, source)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5)",
                params![customer.as_str(), channel, subject, to_ms(now), source],
            )?;
        }
    }
    let keys = VerifiedKey::of(identity);
    store_facts(conn, channel, subject, &keys)?;
    insert_audit(
        conn,
        &AuditEntry {
            id: new_id("lnk"),
            kind: AuditKind::Link,
            customer_id: customer.clone(),
            other_customer_id: None,
            actor: source.to_owned(),
            at: now,
            detail: serde_json::json!({
                "channel": channel,
                "subject": subject,
                "source": source,
                "keys": keys.iter().map(VerifiedKey::label).collect::<Vec<_>>(),
            }),
        },
    )?;
    absorb(
        conn,
        customer.clone(),
        &keys,
        source,
        &format!("{channel}/{subject}"),
        now,
    )?;
    identity_record(conn, channel, subject)
}

/// See [`Identities::unlink_identity`](tandem_core::store::Identities::unlink_identity).
pub(crate) fn unlink_identity(
    conn: &Connection,
    customer: &CustomerId,
    channel: &ChannelId,
    subject: &str,
    now: Timestamp,
) -> Result<Option<CustomerRecord>, StoreError> {
    match identity_record(conn, channel.as_str(), subject)? {
        Some(existing) if existing.customer_id == *customer => {}
        _ => return Ok(None),
    }
    let now_ms = to_ms(now);
    let new = CustomerId::generate();
    exec(
        conn,
        "INSERT INTO customers (id, created_at, updated_at) VALUES (?1, ?2, ?2)",
        params![new.as_str(), now_ms],
    )?;
    exec(
        conn,
        "UPDATE identities SET customer_id = ?1 WHERE channel = ?2 AND subject = ?3",
        params![new.as_str(), channel.as_str(), subject],
    )?;
    insert_audit(
        conn,
        &AuditEntry {
            id: new_id("unl"),
            kind: AuditKind::Unlink,
            customer_id: customer.clone(),
            other_customer_id: Some(new.clone()),
            actor: "admin".into(),
            at: now,
            detail: serde_json::json!({ "channel": channel.as_str(), "subject": subject }),
        },
    )?;
    reads::customer(conn, &new)
}

/// See [`Identities::identity_audit`](tandem_core::store::Identities::identity_audit).
pub(crate) fn identity_audit(
    conn: &Connection,
    customer: &CustomerId,
) -> Result<Vec<AuditEntry>, StoreError> {
    query_all(
        conn,
        "SELECT id, kind, customer_id, other_customer_id, actor, at, record FROM identity_audit
         WHERE customer_id = ?1 OR other_customer_id = ?1 ORDER BY seq",
        params![customer.as_str()],
        |row| {
            Ok(AuditEntry {
                id: col(row, 0)?,
                kind: parse_audit_kind(&col::<String>(row, 1)?)?,
                customer_id: CustomerId::new(col::<String>(row, 2)?),
                other_customer_id: col::<Option<String>>(row, 3)?.map(CustomerId::new),
                actor: col(row, 4)?,
                at: col_ts(row, 5)?,
                detail: col_json(row, 6, "audit detail")?,
            })
        },
    )
}

fn suggestions(conn: &Connection, customer: &CustomerId) -> Result<Vec<SuggestedLink>, StoreError> {
    query_all(
        conn,
        "SELECT customer_id, other_customer_id, key_kind, key_value, reason, at FROM suggested_links
         WHERE customer_id = ?1 OR other_customer_id = ?1 ORDER BY at, customer_id, other_customer_id",
        params![customer.as_str()],
        |row| {
            Ok(SuggestedLink {
                customer_id: CustomerId::new(col::<String>(row, 0)?),
                other_customer_id: CustomerId::new(col::<String>(row, 1)?),
                key: VerifiedKey {
                    kind: parse_kind(&col::<String>(row, 2)?)?,
                    value: col(row, 3)?,
                },
                reason: col(row, 4)?,
                at: col_ts(row, 5)?,
            })
        },
    )
}

/// See [`Identities::suggest_link`](tandem_core::store::Identities::suggest_link).
pub(crate) fn suggest_link(
    conn: &Connection,
    customer: &CustomerId,
    key: &VerifiedKey,
    now: Timestamp,
) -> Result<Option<SuggestedLink>, StoreError> {
    let Some(other) = holders(conn, key, Some(customer))?.into_iter().next() else {
        return Ok(None);
    };
    record_suggestion(conn, customer, &other, key, "unverified_claim", now)?;
    Ok(suggestions(conn, customer)?
        .into_iter()
        .find(|s| s.customer_id == *customer && s.other_customer_id == other && s.key == *key))
}

/// See [`Identities::suggested_links`](tandem_core::store::Identities::suggested_links).
pub(crate) fn suggested_links(
    conn: &Connection,
    customer: &CustomerId,
) -> Result<Vec<SuggestedLink>, StoreError> {
    suggestions(conn, customer)
}

/// See [`Identities::erase_customer`](tandem_core::store::Identities::erase_customer).
pub(crate) fn erase_customer(
    conn: &Connection,
    customer: &CustomerId,
    now: Timestamp,
) -> Result<Option<ErasureReport>, StoreError> {
    if created_at(conn, customer)?.is_none() {
        return Ok(None);
    }
    // The customer and every customer merged into it (their profiles stayed behind).
    let mut people = vec![customer.clone()];
    let mut i = 0;
    while i < people.len() {
        let merged = ids_of(
            conn,
            "SELECT id FROM customers WHERE merged_into = ?1",
            &people[i],
        )?;
        people.extend(merged.into_iter().map(CustomerId::new));
        i += 1;
    }
    let mut report = ErasureReport::default();
    let erased_content = to_json(
        "erased content",
        &tandem_model::Content::Text {
            text: ERASED_TEXT.to_owned(),
        },
    )?;
    let erased_outbound = serde_json::json!({ "text": ERASED_TEXT }).to_string();
    for person in &people {
        let p = person.as_str();
        let identities = query_all(
            conn,
            "SELECT channel, subject FROM identities WHERE customer_id = ?1",
            params![p],
            |row| Ok((col::<String>(row, 0)?, col::<String>(row, 1)?)),
        )?;
        for (channel, subject) in &identities {
            let sender =
                serde_json::json!({ "channel": channel, "subject": ERASED_TEXT }).to_string();
            exec(
                conn,
                "DELETE FROM inbound WHERE processed_at IS NULL
                   AND channel = ?1 AND json_extract(message, '$.sender.subject') = ?2",
                params![channel, subject],
            )?;
            exec(
                conn,
                "UPDATE inbound SET message = json_set(message, '$.sender', json(?3), '$.content', json(?4))
                 WHERE channel = ?1 AND json_extract(message, '$.sender.subject') = ?2",
                params![channel, subject, sender, erased_content],
            )?;
            exec(
                conn,
                "DELETE FROM reachability WHERE channel = ?1 AND subject = ?2",
                params![channel, subject],
            )?;
            exec(
                conn,
                "DELETE FROM kv WHERE namespace = ?1 AND (instr(key, ?2) > 0 OR instr(value, ?2) > 0)",
                params![channel, subject],
            )?;
        }
        report.identities += exec(
            conn,
            "DELETE FROM identities WHERE customer_id = ?1",
            params![p],
        )? as u64;
        let conversations = ids_of(
            conn,
            "SELECT id FROM conversations WHERE customer_id = ?1",
            person,
        )?;
        for id in &conversations {
            let state: String = conn
                .prepare_cached("SELECT state FROM conversations WHERE id = ?1")
                .and_then(|mut stmt| stmt.query_row(params![id], |row| row.get(0)))
                .map_err(sql_error)?;
            let mut state: ConversationState = serde_json::from_str(&state)
                .map_err(|e| StoreError::Corrupt(format!("conversation state of {id}: {e}")))?;
            let mut refs = vec![id.clone()];
            refs.extend(state.erase_personal());
            exec(
                conn,
                "UPDATE conversations SET state = ?2, version = version + 1, updated_at = ?3 WHERE id = ?1",
                params![id, to_json("conversation state", &state)?, to_ms(now)],
            )?;
            report.transcript_entries += exec(
                conn,
                "UPDATE transcript SET content = ?2, buttons = '[]' WHERE conversation_id = ?1",
                params![id, erased_content],
            )? as u64;
            report.ai_audit_records += exec(
                conn,
                "DELETE FROM ai_audit WHERE conversation_id = ?1",
                params![id],
            )? as u64;
            exec(
                conn,
                "UPDATE outbox SET message = json_set(message, '$.recipient', ?2, '$.content', json(?3)),
                        status = CASE WHEN status IN ('pending', 'in_flight') THEN 'failed' ELSE status END,
                        last_error = CASE WHEN status IN ('pending', 'in_flight') THEN 'erased' ELSE last_error END,
                        claim = NULL, claim_expires_at = NULL
                 WHERE conversation_id = ?1",
                params![id, ERASED_TEXT, erased_outbound],
            )?;
            for r in &refs {
                // Desk references (ticket ↔ handoff maps, posted briefings) and desk events.
                exec(
                    conn,
                    "DELETE FROM kv WHERE instr(key, ?1) > 0 OR instr(value, ?1) > 0",
                    params![r],
                )?;
                exec(
                    conn,
                    "UPDATE inbound SET message = json_set(message, '$.content', json(?2))
                     WHERE channel LIKE 'desk:%' AND instr(message, ?1) > 0",
                    params![r, erased_content],
                )?;
            }
            report.conversations += 1;
        }
        report.events += exec(
            conn,
            "UPDATE customer_events SET data = 'null' WHERE customer_id = ?1",
            params![p],
        )? as u64;
        exec(
            conn,
            "UPDATE customers SET display_name = NULL, segment = NULL, attributes = '{}', updated_at = ?2 WHERE id = ?1",
            params![p, to_ms(now)],
        )?;
        exec(
            conn,
            "UPDATE identity_audit SET record = '{\"erased\":true}' WHERE customer_id = ?1 OR other_customer_id = ?1",
            params![p],
        )?;
        exec(
            conn,
            "DELETE FROM suggested_links WHERE customer_id = ?1 OR other_customer_id = ?1",
            params![p],
        )?;
        exec(
            conn,
            "DELETE FROM link_codes WHERE customer_id = ?1",
            params![p],
        )?;
    }
    insert_audit(
        conn,
        &AuditEntry {
            id: new_id("era"),
            kind: AuditKind::Erase,
            customer_id: customer.clone(),
            other_customer_id: None,
            actor: "admin".into(),
            at: now,
            detail: serde_json::to_value(report)
                .map_err(|e| StoreError::Unavailable(format!("encoding an erasure: {e}")))?,
        },
    )?;
    Ok(Some(report))
}
