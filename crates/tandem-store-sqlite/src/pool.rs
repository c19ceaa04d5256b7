//! A small pool of read connections. WAL lets them read committed data while the writer
//! writes. Each connection lives on a thread of its own (`tandem-sqlite-r`), started
//! with the store; queries wait in a bounded queue and the first free reader takes them.
//!
//! Why not tokio's blocking pool: under a burst it starts a new thread whenever none is
//! idle at that instant, and those threads (each with its stack and, because SQLite
//! allocates with the C library's malloc, a glibc arena of its own) outlive the burst.
//! Measured with 10,000 web chat sockets opened and closed, that kept about 7 MiB
//! resident after the sockets were gone (docs/BENCHMARKS.md). A fixed set of readers
//! keeps memory after a burst where it was before.

use crate::rows::sql_error;
use crate::schema;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tandem_core::store::StoreError;
use tokio::sync::{mpsc, oneshot};

/// Queries waiting for a reader before `call` waits to enqueue.
const QUEUE: usize = 1024;

type Job = Box<dyn FnOnce(Result<&Connection, &StoreError>) + Send>;

/// Read connections of one database file.
///
/// Dropping the pool closes every read connection before it returns (the reader threads
/// are joined), so that the writer, closed next, is the last connection: SQLite then
/// checkpoints the WAL into the database and removes it (erased personal data must not
/// stay in the WAL file).
pub(crate) struct ReadPool {
    path: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for ReadPool {
    fn drop(&mut self) {
        // Closing the queue ends each reader once it is idle; its connection closes with it.
        self.jobs.take();
        for reader in self.readers.drain(..) {
            if reader.join().is_err() {
                tracing::error!("A SQLite reader thread panicked.");
            }
        }
    }
}

impl ReadPool {
    /// A pool of `size` reader threads on `path` (each opens its connection when it
    /// starts). Fails when a thread cannot be started.
    pub(crate) fn new(path: PathBuf, size: usize) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        let mut readers = Vec::with_capacity(size.max(1));
        for i in 0..size.max(1) {
            let queue = queue.clone();
            let path = path.clone();
            let reader = std::thread::Builder::new()
                .name(format!("tandem-sqlite-r{i}"))
                .spawn(move || reader(&path, &queue))
                .map_err(|e| StoreError::Unavailable(format!("starting a reader thread: {e}")))?;
            readers.push(reader);
        }
        Ok(Self {
            path,
            jobs: Some(jobs),
            readers,
        })
    }

    /// Opens one connection now, so that `open` reports an unreadable file at once.
    pub(crate) fn warm_up(&self) -> Result<(), StoreError> {
        open(&self.path).map(drop)
    }

    /// Runs `work` on a read connection.
    pub(crate) async fn call<T, F>(self: &Arc<Self>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => work(conn),
                Err(e) => Err(StoreError::Unavailable(format!(
                    "opening a read connection: {e}"
                ))),
            };
            let _ = reply.send(result);
        });
        let closed = || StoreError::Unavailable("the read pool is closed".into());
        self.jobs
            .as_ref()
            .ok_or_else(closed)?
            .send(job)
            .await
            .map_err(|_| closed())?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("a read task failed".into()))?
    }
}

/// One reader: takes jobs until the pool is dropped. A connection that cannot be opened
/// fails the jobs it takes (and is tried again for the next one).
fn reader(path: &PathBuf, queue: &Mutex<mpsc::Receiver<Job>>) {
    let mut conn: Option<Connection> = None;
    loop {
        let job = {
            let mut queue = queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            queue.blocking_recv()
        };
        let Some(job) = job else { return };
        if conn.is_none() {
            match open(path) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    job(Err(&e));
                    continue;
                }
            }
        }
        if let Some(c) = &conn {
            // A panicking query must not take the reader down with it.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(c))));
            if outcome.is_err() {
                tracing::error!("A read query panicked; its connection is reopened.");
                conn = None;
            }
        }
    }
}

fn open(path: &PathBuf) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sql_error)?;
    schema::configure_reader(&conn)?;
    Ok(conn)
}
