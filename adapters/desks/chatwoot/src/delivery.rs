//! How far an agent's reply got, shown on the reply in Chatwoot: its delivery status is
//! set through the message status API of API-channel inboxes (`PATCH
//! …/conversations/{c}/messages/{m}`: `sent`, `delivered`, `read`, and `failed` with
//! `external_error` "Not delivered to the customer: window closed", which Chatwoot shows
//! with the failed mark). Where that call is refused (older Chatwoot without it), a failure
//! becomes a private note in the conversation instead, once per reply.
//!
//! The core reports in its outbox's path, so reports are queued and shown one at a time,
//! in order (Chatwoot never moves `read` back), by a task of the desk's own; each is tried
//! once (best effort: a failure is logged at debug).

use crate::api::ChatwootApi;
use crate::refs::Refs;
use tandem_sdk::{AdapterError, ReplyDelivery};
use tokio::sync::mpsc;
use tracing::debug;

/// Reports waiting to be shown; more are dropped (best effort).
const QUEUE: usize = 256;
/// A platform's reason longer than this is cut.
const MAX_DETAIL_CHARS: usize = 300;

/// Chatwoot's status for a state, and for a failure the text the agent sees.
pub(crate) fn status(report: &ReplyDelivery) -> Option<(&'static str, Option<String>)> {
    let fallback = match report.state.as_str() {
        "sent" => return Some(("sent", None)),
        "delivered" => return Some(("delivered", None)),
        "read" => return Some(("read", None)),
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
    Some((
        "failed",
        Some(format!("Not delivered to the customer: {why}")),
    ))
}

/// Shows reports on the replies they are about.
#[derive(Clone)]
pub(crate) struct Shower {
    pub(crate) api: ChatwootApi,
    pub(crate) refs: Refs,
}

impl Shower {
    /// Shows one report; `Ok` when there was nothing to show.
    pub(crate) async fn show(&self, report: &ReplyDelivery) -> Result<(), AdapterError> {
        let Some((status, error)) = status(report) else {
            return Ok(());
        };
        // Agent replies are recorded under `message:<Chatwoot message id>`.
        let Some(message) = report
            .event_key
            .strip_prefix("message:")
            .and_then(|m| m.parse::<u64>().ok())
        else {
            return Ok(());
        };
        let Some(conversation) = self.refs.conversation(&report.handoff_id).await? else {
            debug!("No Chatwoot conversation for a reply's delivery report; nothing shown.");
            return Ok(());
        };
        let set = self
            .api
            .message_status(conversation, message, status, error.as_deref())
            .await;
        let (Err(e), Some(error)) = (set, error) else {
            return Ok(());
        };
        debug!(error = %e, "Chatwoot refused the message status; noting the failure instead.");
        let step = format!("reply-failed:{}", report.event_key);
        if self.refs.done(&step).await? {
            return Ok(());
        }
        let id = self
            .api
            .message(
                conversation,
                &format!("⚠️ {error}. The agent reply above did not reach them."),
                "outgoing",
                true,
            )
            .await?;
        self.refs.own_message(id).await?;
        self.refs.mark_done(&step).await
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
                    debug!(%error, state = %report.state, "Showing a reply's delivery state in Chatwoot failed.");
                }
            }
        });
        Self { tx }
    }

    /// Queues `report` without waiting.
    pub(crate) fn offer(&self, report: ReplyDelivery) -> Result<(), AdapterError> {
        self.tx
            .try_send(report)
            .map_err(|_| AdapterError::transient("too many delivery reports waiting for Chatwoot"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(state: &str, detail: Option<&str>) -> ReplyDelivery {
        ReplyDelivery {
            handoff_id: "h-1".into(),
            event_key: "message:5601".into(),
            state: state.into(),
            detail: detail.map(str::to_owned),
            at: "2026-01-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn states_map_to_chatwoot_statuses() {
        assert_eq!(status(&report("sending", None)), None);
        assert_eq!(status(&report("sent", None)), Some(("sent", None)));
        assert_eq!(
            status(&report("delivered", None)),
            Some(("delivered", None))
        );
        assert_eq!(status(&report("read", None)), Some(("read", None)));
        assert_eq!(
            status(&report("undeliverable", Some("window closed"))),
            Some((
                "failed",
                Some("Not delivered to the customer: window closed".into())
            ))
        );
        assert_eq!(
            status(&report("failed", None)),
            Some((
                "failed",
                Some("Not delivered to the customer: the channel refused it".into())
            ))
        );
    }
}
