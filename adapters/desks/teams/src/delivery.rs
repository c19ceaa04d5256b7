//! How far an agent's reply got, shown in the handoff's Teams thread: a reply that did not
//! reach the customer (`failed`, `undeliverable`) gets a note there ("⚠️ Not delivered to
//! the customer: window closed."), once per reply. Success states show nothing: the Bot
//! Connector has no reactions or receipts a bot can put on an agent's message, and a note
//! per delivered reply would drown the thread.
//!
//! The core reports in its outbox's path, so reports are queued and shown one at a time,
//! in order, by a task of the desk's own; each is tried once (best effort: a failure is
//! logged at debug).

use crate::card;
use crate::config::TeamsDeskConfig;
use crate::threads::Threads;
use std::sync::Arc;
use tandem_channel_teams::botframework::Connector;
use tandem_sdk::{AdapterError, ReplyDelivery};
use tokio::sync::mpsc;
use tracing::debug;

/// Reports waiting to be shown; more are dropped (best effort).
const QUEUE: usize = 256;
/// A platform's reason longer than this is cut.
const MAX_DETAIL_CHARS: usize = 300;

/// The note for `report`, when its state is a failure.
pub(crate) fn note(report: &ReplyDelivery) -> Option<String> {
    let fallback = match report.state.as_str() {
        "failed" => "the channel refused it",
        "undeliverable" => "the customer can't be reached",
        _ => return None,
    };
    let why: String = report
        .detail
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(fallback)
        .chars()
        .take(MAX_DETAIL_CHARS)
        .collect();
    Some(format!(
        "⚠️ Not delivered to the customer: {why}. An agent reply in this thread did not reach them."
    ))
}

/// Shows reports in the handoff's thread.
#[derive(Clone)]
pub(crate) struct Shower {
    pub(crate) config: Arc<TeamsDeskConfig>,
    pub(crate) connector: Arc<Connector>,
    pub(crate) threads: Threads,
}

impl Shower {
    /// Shows one report; `Ok` when there was nothing to show.
    pub(crate) async fn show(&self, report: &ReplyDelivery) -> Result<(), AdapterError> {
        let Some(text) = note(report) else {
            return Ok(());
        };
        let Some(thread) = self.threads.thread(&report.handoff_id).await? else {
            debug!("No Teams thread for a reply's delivery report; nothing shown.");
            return Ok(());
        };
        // Once per reply, also when a failure is reported twice.
        let step = format!("reply-failed:{}", report.event_key);
        if self.threads.done(&step).await? {
            return Ok(());
        }
        self.connector
            .send_activity(
                &self.config.service_url,
                &thread,
                &card::text_activity(&text, &self.config.bot_id()),
            )
            .await?;
        self.threads.mark_done(&step).await
    }
}

/// The desk's queue of reports and the task showing them.
pub(crate) struct Reporter {
    tx: mpsc::Sender<ReplyDelivery>,
}

impl Reporter {
    /// Starts the task (it ends when the reporter is dropped).
    pub(crate) fn start(shower: Shower) -> Self {
        let (tx, mut rx) = mpsc::channel::<ReplyDelivery>(QUEUE);
        tokio::spawn(async move {
            while let Some(report) = rx.recv().await {
                if let Err(error) = shower.show(&report).await {
                    debug!(%error, state = %report.state, "Showing a reply's delivery state in Teams failed.");
                }
            }
        });
        Self { tx }
    }

    /// Queues `report` without waiting.
    pub(crate) fn offer(&self, report: ReplyDelivery) -> Result<(), AdapterError> {
        self.tx
            .try_send(report)
            .map_err(|_| AdapterError::transient("too many delivery reports waiting for Teams"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(state: &str, detail: Option<&str>) -> ReplyDelivery {
        ReplyDelivery {
            handoff_id: "h-1".into(),
            event_key: "a1".into(),
            state: state.into(),
            detail: detail.map(str::to_owned),
            at: "2026-01-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn only_failures_are_noted() {
        for state in ["sending", "sent", "delivered", "read", "new"] {
            assert_eq!(note(&report(state, None)), None, "{state}");
        }
        assert_eq!(
            note(&report("undeliverable", Some("window closed"))).as_deref(),
            Some(
                "⚠️ Not delivered to the customer: window closed. An agent reply in this thread did not reach them."
            )
        );
        assert!(
            note(&report("failed", None))
                .unwrap()
                .contains("the channel refused it")
        );
        let long = note(&report("failed", Some(&"e".repeat(5_000)))).unwrap();
        assert!(long.chars().count() < 500);
    }
}
