//! Background-free maintenance: finishing turn journals whose writer died and repairing
//! outbox heads. It runs at connect and, at most every [`INTERVAL`], from `claim_outbox`
//! (the dispatcher calls it continuously), so no task of its own is needed.

use crate::docs::conversations::ConversationDoc;
use crate::docs::decode;
use crate::error::classify;
use crate::outbox::repair_heads;
use crate::schema::Collections;
use crate::turns::apply_journal;
use bson::DateTime;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tandem_core::store::StoreError;

/// How often maintenance runs from `claim_outbox`.
pub(crate) const INTERVAL: Duration = Duration::from_secs(30);

/// How old a journal must be before maintenance applies it (its writer normally applies
/// it within milliseconds; applying it twice is harmless, only wasteful).
pub(crate) const JOURNAL_GRACE: Duration = Duration::from_secs(10);

/// At most this many journals are applied per run.
const JOURNALS_PER_RUN: i64 = 100;

/// When maintenance last ran, in wall-clock unix milliseconds.
#[derive(Debug)]
pub(crate) struct Schedule {
    last_ms: AtomicI64,
}

impl Schedule {
    /// A schedule whose last run is now (connect has just run maintenance).
    pub(crate) fn starting_now() -> Self {
        Self {
            last_ms: AtomicI64::new(DateTime::now().timestamp_millis()),
        }
    }

    /// Whether a run is due now; when it is, marks it as started (one caller wins).
    pub(crate) fn take_due(&self) -> bool {
        let now = DateTime::now().timestamp_millis();
        let last = self.last_ms.load(Ordering::Relaxed);
        let interval = i64::try_from(INTERVAL.as_millis()).unwrap_or(i64::MAX);
        now.saturating_sub(last) >= interval
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// Applies journals older than `grace` and repairs outbox heads.
pub(crate) async fn run(c: &Collections, grace: Duration) -> Result<(), StoreError> {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let before = DateTime::from_millis(DateTime::now().timestamp_millis().saturating_sub(grace_ms));
    let cursor = c
        .conversations
        .find(ConversationDoc::journals_before(before))
        .limit(JOURNALS_PER_RUN)
        .await
        .map_err(classify)?;
    let stale =
        crate::records::collect(cursor, |d| decode::<ConversationDoc>("conversation", d)).await?;
    for conversation in stale {
        if let Some(journal) = &conversation.journal {
            tracing::warn!(
                conversation.id = %conversation.id,
                "Applying a turn journal left by a writer that stopped."
            );
            apply_journal(c, &conversation.id.as_str().into(), journal).await?;
        }
    }
    let merges = crate::graph::finish_merges(c).await?;
    if merges > 0 {
        tracing::warn!(
            merges,
            "Applied merge journals left by a writer that stopped."
        );
    }
    let repaired = repair_heads(c).await?;
    if repaired > 0 {
        tracing::warn!(
            repaired,
            "Repaired outbox heads left by a writer that stopped."
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_at_most_once_per_interval() {
        let schedule = Schedule::starting_now();
        assert!(!schedule.take_due(), "connect has just run it");
        let long_ago = DateTime::now().timestamp_millis() - 2 * INTERVAL.as_millis() as i64;
        schedule.last_ms.store(long_ago, Ordering::Relaxed);
        assert!(schedule.take_due(), "due after the interval");
        assert!(!schedule.take_due(), "one caller wins");
    }
}
