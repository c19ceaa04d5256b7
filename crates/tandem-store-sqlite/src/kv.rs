//! Named leases (one upsert that only overwrites an expired row or the holder's own) and
//! the key-value space. Every write is one statement on the writer connection, so atomic.

use crate::SqliteStore;
use crate::rows::{col, exec, lease_ms, query_opt, to_ms};
use async_trait::async_trait;
use rusqlite::params;
use std::time::Duration;
use tandem_core::store::{KeyValue, StoreError};
use tandem_model::Timestamp;

/// The longest lease honoured (a day); longer ones are capped.
const MAX_LEASE_MS: i64 = 24 * 3600 * 1000;

#[async_trait]
impl KeyValue for SqliteStore {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |conn| {
            let now = to_ms(now);
            let ttl = lease_ms(ttl, MAX_LEASE_MS);
            let changed = exec(
                conn,
                "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                     expires_at = excluded.expires_at
                 WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4",
                params![name, holder, now.saturating_add(ttl), now],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.write(move |conn| {
            let removed = exec(
                conn,
                "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                params![name, holder],
            )?;
            Ok(removed > 0)
        })
        .await
    }

    async fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<String>, StoreError> {
        let (namespace, key) = (namespace.to_owned(), key.to_owned());
        self.read(move |conn| {
            query_opt(
                conn,
                "SELECT value FROM kv WHERE namespace = ?1 AND key = ?2",
                params![namespace, key],
                |row| col(row, 0),
            )
        })
        .await
    }

    async fn kv_put(&self, namespace: &str, key: &str, value: &str) -> Result<(), StoreError> {
        let (namespace, key, value) = (namespace.to_owned(), key.to_owned(), value.to_owned());
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO kv (namespace, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
                params![namespace, key, value],
            )?;
            Ok(())
        })
        .await
    }

    async fn kv_swap(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        let (namespace, key, value) = (namespace.to_owned(), key.to_owned(), value.to_owned());
        let expected = expected.map(str::to_owned);
        self.write(move |conn| {
            let changed = match expected {
                None => exec(
                    conn,
                    "INSERT INTO kv (namespace, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (namespace, key) DO NOTHING",
                    params![namespace, key, value],
                )?,
                Some(old) => exec(
                    conn,
                    "UPDATE kv SET value = ?3 WHERE namespace = ?1 AND key = ?2 AND value = ?4",
                    params![namespace, key, value, old],
                )?,
            };
            Ok(changed == 1)
        })
        .await
    }
}
