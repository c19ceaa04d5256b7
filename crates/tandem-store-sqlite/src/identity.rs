//! Customers and the verified identity graph: identity resolution with deterministic
//! merges on verified keys, merge and unmerge, link and unlink, the audit trail, suggested
//! links and the GDPR erasure; profile lookups and updates, business events, and link
//! codes. Every write runs in the writer (one savepoint per command), so each operation
//! is atomic and concurrent resolutions are serialized: two channels carrying the same
//! verified key at the same instant end with one customer; the active-code limit and the
//! single use of a link code hold under concurrent calls the same way.

use crate::SqliteStore;
use crate::conversations::open_conversation;
use crate::rows::{
    self, col, col_json, col_opt_ts, col_ts, exec, query_all, query_opt, sql_error, to_json, to_ms,
};
use async_trait::async_trait;
use rusqlite::{Connection, params};
use std::collections::BTreeMap;
use tandem_core::store::{
    AuditEntry, AuditKind, ConversationState, CustomerEvent, CustomerRecord, CustomerUpdate,
    ERASED_TEXT, ErasureReport, Identities, IdentityRecord, IdentityRef, KeyHolders, KeyKind,
    LinkCode, LinkCodeIssue, LinkCodeRedemption, MergeMoves, MergeRecord, MergeTrigger, StoreError,
    SuggestedLink, VerifiedKey, absorb, check_merge,
};
use tandem_model::{ChannelId, ConversationId, CustomerId, ExternalIdentity, Timestamp};

/// A customer by id (on any connection).
fn customer_by_id(
    conn: &Connection,
    id: &CustomerId,
) -> Result<Option<CustomerRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM customers WHERE id = ?1",
        rows::CUSTOMER_COLUMNS
    );
    query_opt(conn, &sql, params![id.as_str()], rows::customer)
}

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
    query_opt(
        conn,
        "SELECT created_at, merged_into FROM customers WHERE id = ?1",
        params![id.as_str()],
        |row| Ok((col::<i64>(row, 0)?, col::<Option<String>>(row, 1)?)),
    )
    .map(|found| found.map(|(at, merged)| (at, merged.unwrap_or_default())))
}

/// The merge rules' view of the writer's connection ([`absorb`]).
struct Graph<'c>(&'c Connection);

impl KeyHolders for Graph<'_> {
    fn holders_of(
        &mut self,
        key: &VerifiedKey,
        except: Option<&CustomerId>,
    ) -> Result<Vec<CustomerId>, StoreError> {
        holders(self.0, key, except)
    }

    fn were_separated(&mut self, a: &CustomerId, b: &CustomerId) -> Result<bool, StoreError> {
        separated(self.0, a, b)
    }

    fn created_ms(&mut self, id: &CustomerId) -> Result<Option<i64>, StoreError> {
        Ok(created_at(self.0, id)?.map(|(at, _)| at))
    }

    fn record_suggestion(
        &mut self,
        customer: &CustomerId,
        other: &CustomerId,
        key: &VerifiedKey,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        record_suggestion(self.0, customer, other, key, reason, now)
    }

    fn merge_into(
        &mut self,
        survivor: &CustomerId,
        merged: &CustomerId,
        trigger: &MergeTrigger,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        merge(self.0, survivor, merged, trigger, now).map(drop)
    }
}

fn ids_of(conn: &Connection, sql: &str, customer: &CustomerId) -> Result<Vec<String>, StoreError> {
    query_all(conn, sql, params![customer.as_str()], |row| col(row, 0))
}

/// Merges `merged` into `survivor`: [`Identities::merge_customers`] on the writer, also run
/// by [`absorb`].
fn merge(
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
        open_conversation(conn, survivor)?,
        open_conversation(conn, merged)?,
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

fn identity_record(
    conn: &Connection,
    channel: &str,
    subject: &str,
) -> Result<Option<IdentityRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM identities WHERE channel = ?1 AND subject = ?2",
        rows::IDENTITY_COLUMNS
    );
    query_opt(conn, &sql, params![channel, subject], rows::identity)
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

#[async_trait]
impl Identities for SqliteStore {
    async fn resolve_customer(
        &self,
        identity: &ExternalIdentity,
        now: Timestamp,
    ) -> Result<CustomerRecord, StoreError> {
        // A returning customer with nothing new is answered by a reader, no write: the
        // identity is known, with the same verified flag and facts, no other customer
        // holding its keys, and the same display name. Otherwise the write path decides
        // again, serialized.
        let read = identity.clone();
        let unchanged = self
            .read(move |conn| {
                let identity = &read;
                let row: Option<(String, bool, Option<String>, Option<String>)> = query_opt(
                    conn,
                    "SELECT customer_id, verified, email, phone FROM identities WHERE channel = ?1 AND subject = ?2",
                    params![identity.channel.as_str(), identity.subject.as_str()],
                    |row| Ok((col(row, 0)?, col(row, 1)?, col(row, 2)?, col(row, 3)?)),
                )?;
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
                let Some(customer) = customer_by_id(conn, &id)? else {
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
            })
            .await?;
        if let Some(customer) = unchanged {
            return Ok(customer);
        }
        let identity = identity.clone();
        self.write(move |conn| {
            let now_ms = to_ms(now);
            let channel = identity.channel.as_str();
            let subject = identity.subject.as_str();
            let keys = VerifiedKey::of(&identity);
            let known: Option<String> = query_opt(
                conn,
                "SELECT customer_id FROM identities WHERE channel = ?1 AND subject = ?2",
                params![channel, subject],
                |row| col(row, 0),
            )?;
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
                &mut Graph(conn),
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
            customer_by_id(conn, &id)?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "identity {channel}/{subject} points at a missing customer"
                ))
            })
        })
        .await
    }

    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerRecord>, StoreError> {
        let id = id.clone();
        self.read(move |conn| customer_by_id(conn, &id)).await
    }

    async fn identities(&self, customer: &CustomerId) -> Result<Vec<IdentityRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM identities WHERE customer_id = ?1 ORDER BY id",
            rows::IDENTITY_COLUMNS
        );
        let customer = customer.clone();
        self.read(move |conn| query_all(conn, &sql, params![customer.as_str()], rows::identity))
            .await
    }

    async fn customer_by_identity(
        &self,
        channel: &ChannelId,
        subject: &str,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM customers WHERE id = (SELECT customer_id FROM identities WHERE channel = ?1 AND subject = ?2)",
            rows::CUSTOMER_COLUMNS
        );
        let (channel, subject) = (channel.clone(), subject.to_owned());
        self.read(move |conn| {
            query_opt(
                conn,
                &sql,
                params![channel.as_str(), subject],
                rows::customer,
            )
        })
        .await
    }

    async fn customers_by_email(&self, email: &str) -> Result<Vec<CustomerRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM customers WHERE id IN
               (SELECT customer_id FROM identities WHERE email = ?1 COLLATE NOCASE) ORDER BY created_at",
            rows::CUSTOMER_COLUMNS
        );
        let email = email.to_owned();
        self.read(move |conn| query_all(conn, &sql, params![email.trim()], rows::customer))
            .await
    }

    async fn update_customer(
        &self,
        id: &CustomerId,
        update: CustomerUpdate,
        now: Timestamp,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let id = id.clone();
        self.write(move |conn| {
            let Some(current) = customer_by_id(conn, &id)? else {
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
            exec(
                conn,
                "UPDATE customers SET display_name = ?2, segment = ?3, attributes = ?4, updated_at = ?5 WHERE id = ?1",
                params![id.as_str(), name, segment, attributes, to_ms(now)],
            )?;
            customer_by_id(conn, &id)
        })
        .await
    }

    async fn record_customer_event(&self, event: &CustomerEvent) -> Result<bool, StoreError> {
        let event = event.clone();
        self.write(move |conn| {
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
                    rusqlite::Error::SqliteFailure(f, _)
                        if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        StoreError::Conflict("unknown customer".into())
                    }
                    other => sql_error(other),
                })?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn customer_events(
        &self,
        customer: &CustomerId,
        since: Timestamp,
    ) -> Result<Vec<CustomerEvent>, StoreError> {
        let customer = customer.clone();
        self.read(move |conn| {
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
        let (survivor, merged, trigger) = (survivor.clone(), merged.clone(), trigger.clone());
        self.write(move |conn| merge(conn, &survivor, &merged, &trigger, now))
            .await
    }

    async fn unmerge(
        &self,
        merge_id: &str,
        now: Timestamp,
    ) -> Result<Option<MergeRecord>, StoreError> {
        let merge_id = merge_id.to_owned();
        self.write(move |conn| {
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
                && open_conversation(conn, &record.merged)?.is_none()
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
        })
        .await
    }

    async fn link_identity(
        &self,
        customer: &CustomerId,
        identity: &ExternalIdentity,
        source: &str,
        now: Timestamp,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        let (customer, identity, source) = (customer.clone(), identity.clone(), source.to_owned());
        self.write(move |conn| {
            match created_at(conn, &customer)? {
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
                Some(existing) if existing.customer_id != customer => {
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
            let keys = VerifiedKey::of(&identity);
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
                &mut Graph(conn),
                customer.clone(),
                &keys,
                &source,
                &format!("{channel}/{subject}"),
                now,
            )?;
            identity_record(conn, channel, subject)
        })
        .await
    }

    async fn unlink_identity(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        subject: &str,
        now: Timestamp,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let (customer, channel, subject) = (customer.clone(), channel.clone(), subject.to_owned());
        self.write(move |conn| {
            match identity_record(conn, channel.as_str(), &subject)? {
                Some(existing) if existing.customer_id == customer => {}
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
            customer_by_id(conn, &new)
        })
        .await
    }

    async fn identity_audit(&self, customer: &CustomerId) -> Result<Vec<AuditEntry>, StoreError> {
        let customer = customer.clone();
        self.read(move |conn| {
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
        })
        .await
    }

    async fn suggest_link(
        &self,
        customer: &CustomerId,
        key: &VerifiedKey,
        now: Timestamp,
    ) -> Result<Option<SuggestedLink>, StoreError> {
        let (customer, key) = (customer.clone(), key.clone());
        self.write(move |conn| {
            let Some(other) = holders(conn, &key, Some(&customer))?.into_iter().next() else {
                return Ok(None);
            };
            record_suggestion(conn, &customer, &other, &key, "unverified_claim", now)?;
            Ok(suggestions(conn, &customer)?.into_iter().find(|s| {
                s.customer_id == customer && s.other_customer_id == other && s.key == key
            }))
        })
        .await
    }

    async fn suggested_links(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<SuggestedLink>, StoreError> {
        let customer = customer.clone();
        self.read(move |conn| suggestions(conn, &customer)).await
    }

    async fn erase_customer(
        &self,
        customer: &CustomerId,
        now: Timestamp,
    ) -> Result<Option<ErasureReport>, StoreError> {
        let customer = customer.clone();
        self.write(move |conn| {
            if created_at(conn, &customer)?.is_none() {
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
                    let sender = serde_json::json!({ "channel": channel, "subject": ERASED_TEXT })
                        .to_string();
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
                        .map_err(|e| {
                            StoreError::Corrupt(format!("conversation state of {id}: {e}"))
                        })?;
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
                        // Desk references (ticket ↔ handoff maps, posted briefings) and desk
                        // events.
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
        })
        .await
    }

    async fn create_link_code(
        &self,
        code: &LinkCode,
        max_active: usize,
    ) -> Result<LinkCodeIssue, StoreError> {
        let code = code.clone();
        self.write(move |conn| {
            let customer = code.customer_id.as_str();
            let known: Option<i64> = query_opt(
                conn,
                "SELECT 1 FROM customers WHERE id = ?1",
                params![customer],
                |row| col(row, 0),
            )?;
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
            let inserted = exec(
                conn,
                "INSERT INTO link_codes (code, customer_id, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (code) DO NOTHING",
                params![code.code, customer, now, to_ms(code.expires_at)],
            )?;
            if inserted == 0 {
                return Err(StoreError::Conflict("link code already exists".into()));
            }
            Ok(LinkCodeIssue::Issued)
        })
        .await
    }

    async fn redeem_link_code(
        &self,
        code: &str,
        redeemer: &str,
        now: Timestamp,
    ) -> Result<LinkCodeRedemption, StoreError> {
        let (code, redeemer) = (code.to_owned(), redeemer.to_owned());
        self.write(move |conn| {
            let now = to_ms(now);
            let redeemed: Option<String> = query_opt(
                conn,
                "UPDATE link_codes SET used_at = ?2, used_by = ?3
                 WHERE code = ?1 AND used_at IS NULL AND expires_at > ?2
                 RETURNING customer_id",
                params![code, now, redeemer],
                |row| col(row, 0),
            )?;
            if let Some(customer) = redeemed {
                return Ok(LinkCodeRedemption::Redeemed(CustomerId::new(customer)));
            }
            let stale: Option<(String, bool, Option<String>)> = query_opt(
                conn,
                "SELECT customer_id, used_at IS NOT NULL, used_by FROM link_codes WHERE code = ?1",
                params![code],
                |row| Ok((col(row, 0)?, col(row, 1)?, col(row, 2)?)),
            )?;
            Ok(match stale {
                Some((customer, true, by)) if by.as_deref() == Some(redeemer.as_str()) => {
                    LinkCodeRedemption::Redeemed(CustomerId::new(customer))
                }
                Some((customer, true, _)) => {
                    LinkCodeRedemption::AlreadyUsed(CustomerId::new(customer))
                }
                Some((_, false, _)) => LinkCodeRedemption::Expired,
                None => LinkCodeRedemption::Unknown,
            })
        })
        .await
    }
}
