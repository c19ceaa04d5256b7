//! The single writer: one OS thread owns the write connection and applies commands with
//! group commit.
//!
//! The thread blocks for a command, drains whatever else is queued (up to
//! [`MAX_BATCH`]), and runs the batch in one `BEGIN IMMEDIATE` transaction with a
//! savepoint per command. A command that fails is rolled back to its savepoint and gets
//! its own error; the others commit together. After the one `COMMIT` (one fsync under
//! `synchronous = FULL`) every command is answered, so a write future resolves only once
//! its effects are durable. Commands run in submission order, which is what makes
//! [`Writer::flush`] a barrier.
//!
//! Dropping the [`Writer`] closes the queue; the thread finishes the queued commands,
//! closes the connection and is joined.

use crate::rows::sql_error;
use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use tandem_core::store::StoreError;
use tokio::sync::oneshot;

/// Most commands one transaction takes.
pub(crate) const MAX_BATCH: usize = 256;

/// Counters of the writer, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions committed or attempted (one per batch).
    pub batches: u64,
    /// Commands run.
    pub commands: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    commands: AtomicU64,
}

/// A queued command, type-erased.
trait Command: Send {
    /// Runs the command inside its savepoint. Returns false when it failed.
    fn execute(&mut self, conn: &Connection) -> bool;
    /// Sends the answer once the batch's outcome is known.
    fn answer(self: Box<Self>, batch: &Result<(), String>);
}

struct Queued<T, F> {
    work: Option<F>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Command for Queued<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn execute(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| work(conn)))
            .unwrap_or_else(|_| Err(StoreError::Unavailable("a store command panicked".into())));
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn answer(self: Box<Self>, batch: &Result<(), String>) {
        let reply = match (self.outcome, batch) {
            // Its own failure: rolled back to its savepoint whatever the batch did.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(msg)) => Err(StoreError::Unavailable(msg.clone())),
            (None, Ok(())) => Err(StoreError::Unavailable("store command was not run".into())),
        };
        // The caller may have gone away (cancelled future); the write stands regardless.
        let _ = self.reply.send(reply);
    }
}

/// Handle to the writer thread.
pub(crate) struct Writer {
    queue: Option<mpsc::Sender<Box<dyn Command>>>,
    thread: Option<thread::JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the writer thread on `conn` (already configured and migrated).
    pub(crate) fn spawn(conn: Connection) -> Result<Self, StoreError> {
        let (queue, commands) = mpsc::channel::<Box<dyn Command>>();
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        let thread = thread::Builder::new()
            .name("tandem-sqlite-writer".into())
            .spawn(move || run(conn, commands, &thread_counters))
            .map_err(|e| {
                StoreError::Unavailable(format!("starting the SQLite writer thread: {e}"))
            })?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
            counters,
        })
    }

    /// Runs `work` on the write connection, in a transaction shared with the commands
    /// queued alongside it. Resolves once the transaction committed (or failed).
    pub(crate) async fn call<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let command = Box::new(Queued {
            work: Some(work),
            outcome: None,
            reply,
        });
        let stopped = || StoreError::Unavailable("the SQLite writer has stopped".into());
        self.queue
            .as_ref()
            .ok_or_else(stopped)?
            .send(command)
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Resolves once every command submitted before it has committed.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        self.call(|_| Ok(())).await
    }

    /// The writer's counters.
    pub(crate) fn stats(&self) -> WriteStats {
        WriteStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            commands: self.counters.commands.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread's loop once the queued commands are done.
        drop(self.queue.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("The SQLite writer thread panicked.");
        }
    }
}

fn run(conn: Connection, commands: mpsc::Receiver<Box<dyn Command>>, counters: &Counters) {
    let mut batch: Vec<Box<dyn Command>> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = commands.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match commands.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        let outcome = run_batch(&conn, &mut batch).map_err(|e| e.to_string());
        if let Err(error) = &outcome {
            tracing::error!(%error, commands = batch.len(), "SQLite write transaction failed.");
        }
        counters.batches.fetch_add(1, Ordering::Relaxed);
        counters
            .commands
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        for command in batch.drain(..) {
            command.answer(&outcome);
        }
    }
    if let Err((_, error)) = conn.close() {
        tracing::warn!(%error, "Closing the SQLite write connection failed.");
    }
}

/// Runs one batch in one transaction. An `Err` means nothing of the batch committed.
fn run_batch(conn: &Connection, batch: &mut [Box<dyn Command>]) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(sql_error)?;
    let result =
        run_commands(conn, batch).and_then(|()| conn.execute_batch("COMMIT").map_err(sql_error));
    if result.is_err()
        && !conn.is_autocommit()
        && let Err(error) = conn.execute_batch("ROLLBACK")
    {
        tracing::error!(%error, "Rolling back a failed SQLite batch failed.");
    }
    result
}

fn run_commands(conn: &Connection, batch: &mut [Box<dyn Command>]) -> Result<(), StoreError> {
    for command in batch {
        conn.execute_batch("SAVEPOINT command").map_err(sql_error)?;
        if command.execute(conn) {
            conn.execute_batch("RELEASE command").map_err(sql_error)?;
        } else if conn.is_autocommit() {
            // Some errors (I/O, full disk) make SQLite roll back the whole transaction.
            return Err(StoreError::Unavailable(
                "SQLite rolled back the write transaction".into(),
            ));
        } else {
            conn.execute_batch("ROLLBACK TO command; RELEASE command")
                .map_err(sql_error)?;
        }
    }
    Ok(())
}
