//! A small pool of read connections. WAL lets them read committed data while the writer
//! writes. Queries run on tokio's blocking threads; a semaphore bounds how many run at
//! once, and connections are opened lazily and reused.

use crate::rows::sql_error;
use crate::schema;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tandem_core::store::StoreError;
use tokio::sync::Semaphore;

/// Read connections of one database file.
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    /// A pool of at most `size` connections to `path`.
    pub(crate) fn new(path: PathBuf, size: usize) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Arc::new(Semaphore::new(size.max(1))),
        }
    }

    /// Opens one connection now, so that `open` reports an unreadable file at once.
    pub(crate) fn warm_up(&self) -> Result<(), StoreError> {
        let conn = self.open()?;
        self.put_back(conn);
        Ok(())
    }

    /// Runs `work` on a read connection.
    pub(crate) async fn call<T, F>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the read pool is closed".into()))?;
        let pool = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = match pool.take() {
                Some(conn) => conn,
                None => pool.open()?,
            };
            let result = work(&conn);
            pool.put_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("a read task failed: {e}")))?
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(sql_error)?;
        schema::configure_reader(&conn)?;
        Ok(conn)
    }

    fn take(&self) -> Option<Connection> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop()
    }

    fn put_back(&self, conn: Connection) {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(conn);
    }
}
