//! Background-free maintenance: finishing turn journals whose writer died and repairing
//! outbox heads. It runs at connect and, at most every [`INTERVAL`], from `claim_outbox`
//! (the dispatcher calls it continuously), so no task of its own is needed.

use crate::docs::conversations::ConversationDoc;
use crate::docs::decode;
use crate::error::classify;
use crate::outbox::{headless_lanes, promote_lanes};
use crate::schema::Collections;
use crate::turns::apply_journal;
use bson::DateTime;
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tandem_core::store::StoreError;
use tandem_model::ConversationId;

/// How often maintenance runs from `claim_outbox`.
pub(crate) const INTERVAL: Duration = Duration::from_secs(30);

/// How old a journal must be before maintenance applies it (its writer normally applies
/// it within milliseconds; applying it twice is harmless, only wasteful).
pub(crate) const JOURNAL_GRACE: Duration = Duration::from_secs(10);

/// At most this many journals are applied per run.
const JOURNALS_PER_RUN: i64 = 100;

/// When maintenance last ran, in wall-clock unix milliseconds, and the outbox lanes it
/// found without a head.
#[derive(Debug)]
pub(crate) struct Schedule {
    last_ms: AtomicI64,
    /// Lanes (conversation, destination) found headless by the last periodic run. A live
    /// writer leaves a lane headless for an instant (between its commit and promoting
    /// the new head, or between finishing a head and promoting the next); a lane still
    /// headless a run later was left by a writer that stopped.
    suspects: Mutex<Suspects>,
}

impl Schedule {
    /// A schedule whose last run is now (connect has just run maintenance).
    pub(crate) fn starting_now() -> Self {
        Self {
            last_ms: AtomicI64::new(DateTime::now().timestamp_millis()),
            suspects: Mutex::new(Suspects::default()),
        }
    }

    /// The suspects of the last periodic run.
    pub(crate) fn suspects(&self) -> std::sync::MutexGuard<'_, Suspects> {
        self.suspects.lock().unwrap_or_else(|e| e.into_inner())
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

/// Outbox lanes (conversation, destination) the last periodic run found without a head.
#[derive(Debug, Default)]
pub(crate) struct Suspects(HashSet<(ConversationId, String)>);

impl Suspects {
    /// Of the lanes found headless now, those the last run found headless too (to be
    /// repaired); all of them are what the next run compares with.
    fn confirmed(&mut self, lanes: Vec<(ConversationId, String)>) -> Vec<(ConversationId, String)> {
        let seen = std::mem::replace(&mut self.0, lanes.iter().cloned().collect());
        lanes.into_iter().filter(|l| seen.contains(l)).collect()
    }
}

/// Applies journals older than `grace` and repairs outbox heads. With `suspects` (the
/// periodic runs), a headless lane is repaired only when the previous run saw it too;
/// without (at connect, after a restart), at once.
pub(crate) async fn run(
    c: &Collections,
    grace: Duration,
    suspects: Option<&Schedule>,
) -> Result<(), StoreError> {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let before = DateTime::from_millis(DateTime::now().timestamp_millis().saturating_sub(grace_ms));
    let cursor = c
        .conversations
        .find(ConversationDoc::journals_before(before))
        .limit(JOURNALS_PER_RUN)
        .await
        .map_err(classify)?;
    let stale =
        crate::docs::collect(cursor, |d| decode::<ConversationDoc>("conversation", d)).await?;
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
    let mut lanes = headless_lanes(c).await?;
    if let Some(schedule) = suspects {
        lanes = schedule.suspects().confirmed(lanes);
    }
    promote_lanes(c, &lanes).await?;
    let repaired = lanes.len();
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

    /// A lane is repaired by a periodic run only when the run before saw it headless
    /// too; a lane that got its head in between is forgotten.
    #[test]
    fn a_headless_lane_is_repaired_when_two_runs_see_it() {
        let lane = |c: &str| (ConversationId::new(c), "whatsapp".to_owned());
        let mut s = Suspects::default();
        assert!(
            s.confirmed(vec![lane("conv_1"), lane("conv_2")]).is_empty(),
            "first sight: a writer may be mid-commit"
        );
        assert_eq!(
            s.confirmed(vec![lane("conv_1")]),
            [lane("conv_1")],
            "still headless a run later"
        );
        assert_eq!(
            s.confirmed(vec![lane("conv_1"), lane("conv_2")]),
            [lane("conv_1")],
            "conv_2 got its head in between, so it starts over; conv_1 stays confirmed"
        );
    }

    /// Against the server: the first periodic run leaves a headless lane alone, the
    /// next one repairs it; the run at connect repairs at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn periodic_runs_repair_a_lane_headless_in_two_runs() {
        use bson::doc;
        let Some((store, _database)) =
            crate::testing::test_store("the maintenance suspects test", crate::CommitMode::Auto)
                .await
        else {
            return;
        };
        let entry = |id: &str, conversation: &str| {
            doc! {
                "_id": id, "conversation_id": conversation, "ord": 1_i64, "unfinished": true,
                "head": false, "message": { "channel": "web" },
            }
        };
        let heads = || async {
            store
                .c
                .outbox
                .count_documents(doc! { "head": true })
                .await
                .expect("count")
        };
        store
            .c
            .outbox
            .insert_one(entry("out_1", "conv_1"))
            .await
            .expect("insert");
        let schedule = Schedule::starting_now();
        run(&store.c, Duration::ZERO, Some(&schedule))
            .await
            .expect("first run");
        assert_eq!(heads().await, 0, "first sight: left alone");
        run(&store.c, Duration::ZERO, Some(&schedule))
            .await
            .expect("second run");
        assert_eq!(heads().await, 1, "repaired a run later");
        store
            .c
            .outbox
            .insert_one(entry("out_2", "conv_2"))
            .await
            .expect("insert");
        run(&store.c, Duration::ZERO, None)
            .await
            .expect("connect run");
        assert_eq!(heads().await, 2, "at connect: repaired at once");
    }
}
