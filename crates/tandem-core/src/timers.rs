//! Durable timers: rows in the store (`WorkQueue::schedule_timer`), claimed under a lease by
//! the timer worker of whichever process comes first, so a timer survives a restart (or a
//! `kill -9`) and fires at its due time, not at start-up. A timer whose claimer died is
//! taken over when the lease ends; firing is idempotent (each kind re-checks the
//! conversation before acting), so a takeover never acts twice.
//!
//! Kinds: [`Timer::Inactivity`], the check-in after a customer went quiet following a bot
//! reply (one per conversation: a later bot reply reschedules it), and [`Timer::Sla`], a
//! handoff's time to acceptance (one per handoff: a re-route restarts it).

use crate::engine::Command;
use crate::router::Core;
use crate::store::{NewTimer, StoreError, TimerEntry};
use std::time::Duration;
use tandem_model::Timestamp;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// How long a claimed timer is held before another worker may take it over.
const LEASE: Duration = Duration::from_secs(30);
/// Timers claimed at once.
const BATCH: usize = 32;
/// Longest sleep between looks at the store (another process may have scheduled one).
const MAX_WAIT: Duration = Duration::from_secs(1);
/// How long the worker lets wake-ups from turns collapse before it reads the next due time.
const NOTIFY_DEBOUNCE: Duration = Duration::from_millis(50);
/// A timer whose firing keeps failing is dropped after this many claims.
const MAX_ATTEMPTS: u32 = 10;

pub use crate::engine::timers::Timer;

impl Timer {
    /// The row to store for this timer, due at `due_at`.
    pub fn to_new(&self, due_at: Timestamp) -> Result<NewTimer, StoreError> {
        Ok(NewTimer {
            id: self.id(),
            kind: self.kind().to_owned(),
            payload: serde_json::to_string(self)
                .map_err(|e| StoreError::Corrupt(format!("encoding a timer: {e}")))?,
            due_at,
        })
    }

    /// Reads a stored timer back.
    pub fn from_entry(entry: &TimerEntry) -> Result<Self, String> {
        let timer: Self = serde_json::from_str(&entry.payload).map_err(|e| e.to_string())?;
        if timer.kind() == entry.kind {
            Ok(timer)
        } else {
            Err(format!(
                "kind {} with a {} payload",
                entry.kind,
                timer.kind()
            ))
        }
    }
}

impl Core {
    /// Stores `timer` to fire at `due_at` (replacing a pending timer with the same key)
    /// and wakes the timer worker.
    pub(crate) async fn schedule(
        &self,
        timer: &Timer,
        due_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner
            .store
            .schedule_timer(&timer.to_new(due_at)?)
            .await?;
        self.inner.timer_wakeup.notify_one();
        Ok(())
    }

    pub(crate) async fn fire(&self, timer: Timer) -> Result<(), StoreError> {
        match timer {
            Timer::Inactivity {
                conversation_id,
                next_seq,
            } => self.check_inactivity(&conversation_id, next_seq).await,
            Timer::Sla {
                conversation_id,
                handoff_id,
            } => self.check_sla(&conversation_id, &handoff_id).await,
        }
    }
}

async fn fire_one(core: &Core, entry: TimerEntry) {
    let timer = match Timer::from_entry(&entry) {
        Ok(timer) => timer,
        Err(reason) => {
            warn!(timer.id = %entry.id, %reason, "Dropping an unreadable timer.");
            let _ = core.inner.store.finish_timer(&entry.id, &entry.claim).await;
            return;
        }
    };
    match core.execute(Command::TimerDue(timer)).await {
        Ok(_) => {
            debug!(timer.id = %entry.id, "Timer fired.");
        }
        Err(error) if entry.attempts < MAX_ATTEMPTS => {
            // Left claimed: it comes back when the lease ends.
            warn!(timer.id = %entry.id, attempt = entry.attempts, %error, "A timer failed; it will be retried.");
            return;
        }
        Err(error) => {
            warn!(timer.id = %entry.id, %error, "A timer kept failing; dropped.");
        }
    }
    if let Err(error) = core.inner.store.finish_timer(&entry.id, &entry.claim).await {
        warn!(timer.id = %entry.id, %error, "Finishing a timer failed; it may fire again (harmless).");
    }
}

impl Core {
    /// Claims due timers and fires them until `stop` is cancelled.
    pub(crate) async fn run_timers(self, stop: CancellationToken) {
        let core = self;
        // The earliest due time known, and whether it is known: a claim (a write) is made only
        // when something is due, or after `MAX_WAIT` (for timers set by other replicas).
        let mut next_due: Option<Timestamp> = None;
        let mut known = false;
        loop {
            if stop.is_cancelled() {
                break;
            }
            let now = core.inner.clock.now();
            if !known || next_due.is_some_and(|due| due <= now) {
                let claimed = match core.inner.store.claim_timers(now, BATCH, LEASE).await {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        warn!(%error, "Claiming timers failed.");
                        Vec::new()
                    }
                };
                let busy = !claimed.is_empty();
                for entry in claimed {
                    fire_one(&core, entry).await;
                }
                if busy {
                    continue;
                }
                next_due = core.inner.store.next_timer_due().await.ok().flatten();
                known = true;
            }
            let wait = next_due.map_or(MAX_WAIT, |due| {
                let ms = (due - core.inner.clock.now())
                    .whole_milliseconds()
                    .clamp(0, MAX_WAIT.as_millis() as i128);
                Duration::from_millis(u64::try_from(ms).unwrap_or(0))
            });
            tokio::select! {
                () = core.inner.timer_wakeup.notified() => {
                    // A turn scheduled a timer: learn the earliest due time again (a read, no
                    // claim). Turns schedule many; the pause lets their wake-ups collapse.
                    tokio::select! {
                        () = tokio::time::sleep(NOTIFY_DEBOUNCE) => {}
                        () = stop.cancelled() => break,
                    }
                    if let Ok(due) = core.inner.store.next_timer_due().await {
                        next_due = due;
                    }
                }
                () = tokio::time::sleep(wait) => known = false,
                () = stop.cancelled() => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_model::ConversationId;

    #[test]
    fn a_timer_round_trips_through_its_row() {
        let timer = Timer::Inactivity {
            conversation_id: ConversationId::new("conv_1"),
            next_seq: 7,
        };
        let row = timer.to_new(tandem_model::Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(row.id, "inactivity:conv_1");
        assert_eq!(row.kind, "inactivity");
        let entry = TimerEntry {
            id: row.id,
            kind: row.kind,
            payload: row.payload,
            due_at: row.due_at,
            attempts: 1,
            claim: "c".into(),
        };
        assert_eq!(Timer::from_entry(&entry).unwrap(), timer);
        let wrong = TimerEntry {
            kind: "sla".into(),
            ..entry.clone()
        };
        assert!(
            Timer::from_entry(&wrong).is_err(),
            "kind and payload must agree"
        );
        let garbage = TimerEntry {
            payload: "{".into(),
            ..entry
        };
        assert!(Timer::from_entry(&garbage).is_err());
    }
}
