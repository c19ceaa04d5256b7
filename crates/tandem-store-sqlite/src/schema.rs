//! Connection settings and versioned schema migrations.
//!
//! Migrations are numbered SQL scripts in `src/migrations/`; migration `n` is
//! `MIGRATIONS[n - 1]`. The schema version lives in `PRAGMA user_version`. Each pending
//! migration runs in its own `IMMEDIATE` transaction together with the version bump, so
//! startup is idempotent and a crash mid-migration leaves the previous version intact.
//! Append new scripts; never edit a released one.

use crate::rows::sql_error;
use rusqlite::{Connection, TransactionBehavior};
use std::time::Duration;
use tandem_core::store::StoreError;

/// The migration scripts, in order.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_delivery_reports.sql"),
    include_str!("migrations/0003_profiles_and_events.sql"),
    include_str!("migrations/0004_identity_graph.sql"),
    include_str!("migrations/0005_link_codes.sql"),
    include_str!("migrations/0006_routing.sql"),
    include_str!("migrations/0007_link_code_redeemer.sql"),
    include_str!("migrations/0008_conversation_activity.sql"),
    include_str!("migrations/0009_outbox_order_per_destination.sql"),
    include_str!("migrations/0010_timers.sql"),
    include_str!("migrations/0011_leases.sql"),
    include_str!("migrations/0012_ai_audit.sql"),
];

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// How long a connection waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings of the writer connection: WAL, durable commits, foreign keys, secure delete.
pub(crate) fn configure_writer(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "SQLite refused WAL mode (journal_mode = {mode})"
        )));
    }
    // FULL: a commit is on disk when COMMIT returns, so a write future resolves durably.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql_error)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(sql_error)?;
    // Erased personal data (GDPR) must not linger in freed pages or cells of the file.
    conn.pragma_update(None, "secure_delete", true)
        .map_err(sql_error)?;
    conn.set_prepared_statement_cache_capacity(64);
    crate::stats::install(conn);
    Ok(())
}

/// Settings of a read connection.
pub(crate) fn configure_reader(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(sql_error)?;
    conn.set_prepared_statement_cache_capacity(64);
    crate::stats::install(conn);
    Ok(())
}

/// The schema version of a database.
pub(crate) fn version(conn: &Connection) -> Result<u32, StoreError> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql_error)
}

/// Applies every migration newer than the database's version. Returns how many ran.
pub(crate) fn migrate(conn: &mut Connection) -> Result<usize, StoreError> {
    let current = version(conn)?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this build understands ({SCHEMA_VERSION})"
        )));
    }
    let mut applied = 0;
    for (index, script) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let target = u32::try_from(index + 1).expect("migration count fits in u32");
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        // Another process may have migrated while we waited for the lock.
        if version(&tx)? >= target {
            continue;
        }
        tx.execute_batch(script).map_err(sql_error)?;
        tx.pragma_update(None, "user_version", target)
            .map_err(sql_error)?;
        tx.commit().map_err(sql_error)?;
        tracing::info!(version = target, "Applied SQLite store migration.");
        applied += 1;
    }
    Ok(applied)
}
