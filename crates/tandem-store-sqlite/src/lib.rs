//! The embedded SQLite store: Tandem's default, durable, one file.
//!
//! [`SqliteStore`] implements [`tandem_core::store::Store`] on one SQLite database in WAL
//! mode with `synchronous = FULL`: a write's future resolves once the write is on disk.
//!
//! # Layout
//!
//! - `writer`: one OS thread owns the only write connection. Commands
//!   queue on a channel; the thread runs everything queued (up to 256 commands) in one
//!   transaction with a savepoint per command and commits once (group commit: one fsync
//!   per batch, not per message). Claiming outbox entries happens there too, so selecting
//!   and marking them is atomic.
//! - `pool`: a few read connections, each on a reader thread of its own;
//!   WAL lets them read while the writer writes.
//! - `schema`: connection settings and numbered migrations
//!   (`src/migrations/*.sql`, tracked in `PRAGMA user_version`).
//! - One module per area trait of the store, holding that trait's `impl` for
//!   [`SqliteStore`] and the SQL of each operation: `inbound` (`InboundLog`), `identity`
//!   (`Identities`: customers, the identity graph, link codes, events), `conversations`
//!   (`Conversations`: conversations and turns), `work_queue` (`WorkQueue`: outbox,
//!   timers, delivery reports, reachability), `reporting` (`Reporting`), `routing`
//!   (`Routing`) and `kv` (`KeyValue`: leases and the key-value space). Each method runs
//!   its SQL in a closure, on a read connection or queued on the writer.
//! - `rows`: row and JSON conversions.
//!
//! Timestamps are stored as unix milliseconds; documents (messages, conversation state,
//! content) as JSON. Stored data that does not parse is reported as
//! [`StoreError::Corrupt`], never a panic.

mod conversations;
mod identity;
mod inbound;
mod kv;
mod pool;
mod reporting;
mod routing;
mod rows;
mod schema;
pub mod stats;
mod work_queue;
mod writer;

pub use schema::SCHEMA_VERSION;
pub use writer::WriteStats;

use async_trait::async_trait;
use pool::ReadPool;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tandem_core::store::{Store, StoreError};
use writer::Writer;

/// Read connections per store.
const READ_CONNECTIONS: usize = 4;

/// The SQLite implementation of [`Store`]. Cheap to share behind an `Arc`; dropping it
/// finishes the queued writes and stops the writer thread.
pub struct SqliteStore {
    path: PathBuf,
    // Declared before `writer` so that readers close first; the writer then checkpoints.
    reads: Arc<ReadPool>,
    writer: Writer,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`, creating parent directories, and applies
    /// pending migrations. Blocks while it does so.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!("creating directory {}: {e}", parent.display()))
            })?;
        }
        let mut conn = rusqlite::Connection::open(&path).map_err(rows::sql_error)?;
        schema::configure_writer(&conn)?;
        schema::migrate(&mut conn)?;
        let reads = Arc::new(ReadPool::new(path.clone(), READ_CONNECTIONS)?);
        reads.warm_up()?;
        let writer = Writer::spawn(conn)?;
        tracing::debug!(path = %path.display(), "Opened the SQLite store.");
        Ok(SqliteStore {
            path,
            reads,
            writer,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Group-commit counters of the writer.
    pub fn write_stats(&self) -> WriteStats {
        self.writer.stats()
    }

    /// Runs `work` on a read connection of the pool.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.reads.call(work).await
    }

    /// Runs `work` on the writer (see `writer`): resolves once its transaction committed.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.writer.call(work).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(rows::sql_error)
        })
        .await?;
        self.writer.flush().await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.writer.flush().await
    }
}
