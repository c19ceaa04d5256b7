//! How far an agent's reply got, shown on the reply itself in Slack: a reaction for
//! `delivered` (✅ `white_check_mark`) and `read` (👀 `eyes`), and for `failed` /
//! `undeliverable` a ❌ reaction plus a thread reply mentioning the agent ("Not delivered
//! to the customer: window closed"), so a failure can't be missed. `sending` and `sent`
//! show nothing (every reply is sent; a mark on each would be noise).
//!
//! The core reports in its outbox's path, so reports are queued and shown one at a time,
//! in order, by a task of the desk's own; each is tried once (best effort: a failure is
//! logged at debug, and the reply keeps the marks it has).

use crate::api::SlackApi;
use crate::blocks;
use crate::threads::Threads;
use serde::{Deserialize, Serialize};
use tandem_sdk::{AdapterError, ReplyDelivery};
use tokio::sync::mpsc;
use tracing::debug;

/// Reports waiting to be shown; more are dropped (best effort).
const QUEUE: usize = 256;
/// A platform's reason longer than this is cut (the thread reply stays readable).
const MAX_DETAIL_CHARS: usize = 300;

/// Where an agent's reply is in Slack, kept under its event id when it arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReplyRef {
    /// The channel of the handoff's thread.
    pub(crate) channel: String,
    /// The thread's root.
    pub(crate) thread_ts: String,
    /// The reply itself.
    pub(crate) ts: String,
    /// The agent who wrote it.
    pub(crate) user: String,
}

/// What the desk shows for one state of a reply.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Shown {
    /// Nothing (`sending`, `sent`, a state the desk does not know).
    Nothing,
    /// A reaction on the reply.
    Reaction(&'static str),
    /// A reaction on the reply and a thread reply saying why it did not arrive.
    Failure {
        /// The reaction.
        reaction: &'static str,
        /// The thread reply.
        note: String,
    },
}

/// What `report` shows on a reply by `user`.
pub(crate) fn shown(report: &ReplyDelivery, user: &str) -> Shown {
    match report.state.as_str() {
        "delivered" => Shown::Reaction("white_check_mark"),
        "read" => Shown::Reaction("eyes"),
        "failed" | "undeliverable" => {
            let why = report
                .detail
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .unwrap_or(if report.state == "failed" {
                    "the channel refused it"
                } else {
                    "the customer can't be reached"
                });
            let why: String = why.chars().take(MAX_DETAIL_CHARS).collect();
            Shown::Failure {
                reaction: "x",
                note: format!(
                    "<@{}> :warning: Not delivered to the customer: {}. Your reply above did not reach them.",
                    blocks::escape(user),
                    blocks::escape(&why)
                ),
            }
        }
        _ => Shown::Nothing,
    }
}

/// Shows reports on the replies they are about.
#[derive(Clone)]
pub(crate) struct Shower {
    pub(crate) api: SlackApi,
    pub(crate) threads: Threads,
}

impl Shower {
    /// Shows one report; `Ok` when there was nothing to show.
    pub(crate) async fn show(&self, report: &ReplyDelivery) -> Result<(), AdapterError> {
        let Some(reply) = self.threads.reply(&report.event_key).await else {
            debug!(state = %report.state, "No Slack reply known for a delivery report; nothing shown.");
            return Ok(());
        };
        match shown(report, &reply.user) {
            Shown::Nothing => Ok(()),
            Shown::Reaction(name) => self.api.react(&reply.channel, &reply.ts, name).await,
            Shown::Failure { reaction, note } => {
                // Once per reply, also when a failure is reported twice.
                let step = format!("reply-failed:{}", report.event_key);
                if !self.threads.done(&step).await? {
                    self.api
                        .post(&note, None, Some(&reply.thread_ts), Some(&reply.channel))
                        .await?;
                    self.threads.mark_done(&step).await?;
                }
                self.api.react(&reply.channel, &reply.ts, reaction).await
            }
        }
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
                    debug!(%error, state = %report.state, "Showing a reply's delivery state in Slack failed.");
                }
            }
        });
        Self { tx }
    }

    /// Queues `report` without waiting.
    pub(crate) fn offer(&self, report: ReplyDelivery) -> Result<(), AdapterError> {
        self.tx
            .try_send(report)
            .map_err(|_| AdapterError::transient("too many delivery reports waiting for Slack"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(state: &str, detail: Option<&str>) -> ReplyDelivery {
        ReplyDelivery {
            handoff_id: "h-1".into(),
            event_key: "Ev1".into(),
            state: state.into(),
            detail: detail.map(str::to_owned),
            at: "2026-01-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn states_map_to_marks() {
        assert_eq!(shown(&report("sending", None), "U1"), Shown::Nothing);
        assert_eq!(shown(&report("sent", None), "U1"), Shown::Nothing);
        assert_eq!(
            shown(&report("delivered", None), "U1"),
            Shown::Reaction("white_check_mark")
        );
        assert_eq!(shown(&report("read", None), "U1"), Shown::Reaction("eyes"));
        assert_eq!(shown(&report("something new", None), "U1"), Shown::Nothing);
        let Shown::Failure { reaction, note } = shown(
            &report("undeliverable", Some("window closed")),
            "U0AGENT001",
        ) else {
            panic!("a failure is shown");
        };
        assert_eq!(reaction, "x");
        assert!(note.starts_with("<@U0AGENT001> "), "{note}");
        assert!(
            note.contains("Not delivered to the customer: window closed."),
            "{note}"
        );
        let Shown::Failure { note, .. } = shown(&report("failed", None), "U1") else {
            panic!("a failure is shown");
        };
        assert!(note.contains("the channel refused it"), "{note}");
        let Shown::Failure { note, .. } = shown(&report("failed", Some(&"<x>".repeat(500))), "U1")
        else {
            panic!("a failure is shown");
        };
        assert!(note.len() < 2_000 && !note.contains("<x>"), "{note}");
    }
}
