//! The console's durable state, in the desk's key-value space: one record per handoff
//! (`handoff:<id>`: the briefing, later messages, status, assignee, who accepted, and the
//! delivery/action ids already applied) and the index of open handoffs (`open`: a JSON
//! array of ids), plus the index of closed ones for the history (`closed`: newest first,
//! bounded). Every change is one write of the record, so a retried delivery or a resent
//! agent frame is recognised from the record itself and has no second effect.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tandem_sdk::handoff::{Agent, HandoffRequested, TranscriptLine};
use tandem_sdk::{DeskDelivery, DeskEventSink, DeskOp, InboundError, ReplyDelivery};
use tokio::sync::Mutex;

/// How many applied delivery/action ids a record remembers.
const MAX_APPLIED: usize = 500;
/// Key of the open-handoff index.
const INDEX_KEY: &str = "open";
/// Key of the closed-handoff index (the history), newest first.
const CLOSED_KEY: &str = "closed";
/// How many closed handoffs the history keeps.
pub(crate) const MAX_HISTORY: usize = 1000;
/// How often a change is redone after another replica changed the same record first.
const MAX_RACES: usize = 32;

/// A transcript line after the briefing: a customer message, or an agent reply with the
/// key it was submitted under (to show its delivery state).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Line {
    #[serde(flatten)]
    pub(crate) line: TranscriptLine,
    /// The agent reply's dedupe key (`console:<agent>:<action id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
}

/// How far an agent reply got, as the core reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeliveryView {
    /// `sending`, `sent`, `delivered`, `read`, `failed`, `undeliverable`.
    pub(crate) state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
    pub(crate) at: String,
}

/// Where a handoff is, as the console shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// Waiting for an agent.
    Queued,
    /// An agent took it.
    Accepted,
    /// Tandem closed it (resolved, released, timed out, re-routed).
    Closed,
}

/// One handoff as the console keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HandoffRecord {
    /// The `handoff.requested` document: the briefing.
    pub(crate) briefing: HandoffRequested,
    /// Everything after the briefing's transcript: customer messages and agent replies.
    pub(crate) messages: Vec<Line>,
    /// Delivery states of agent replies, by the reply's key (a report may arrive before
    /// the reply is recorded here).
    #[serde(default)]
    pub(crate) deliveries: BTreeMap<String, DeliveryView>,
    pub(crate) status: Status,
    /// The queue it is in now.
    pub(crate) target: String,
    pub(crate) priority: String,
    /// The agent routing assigned, if any.
    pub(crate) assignee: Option<Agent>,
    /// The agent who accepted it in the console, if any.
    pub(crate) accepted_by: Option<Agent>,
    /// Why Tandem closed it.
    pub(crate) closed_reason: Option<String>,
    /// RFC 3339 of the last change.
    pub(crate) updated_at: String,
    /// Delivery ids and agent action keys already applied (newest last, bounded).
    #[serde(default)]
    pub(crate) applied: Vec<String>,
}

impl HandoffRecord {
    fn new(briefing: HandoffRequested, now: &str) -> Self {
        Self {
            target: briefing.reason.target.clone(),
            priority: briefing.reason.priority.clone(),
            briefing,
            messages: Vec::new(),
            deliveries: BTreeMap::new(),
            status: Status::Queued,
            assignee: None,
            accepted_by: None,
            closed_reason: None,
            updated_at: now.to_owned(),
            applied: Vec::new(),
        }
    }

    fn has_applied(&self, key: &str) -> bool {
        self.applied.iter().any(|k| k == key)
    }

    fn mark_applied(&mut self, key: &str, now: &str) {
        self.applied.push(key.to_owned());
        if self.applied.len() > MAX_APPLIED {
            let extra = self.applied.len() - MAX_APPLIED;
            self.applied.drain(..extra);
        }
        self.updated_at = now.to_owned();
    }

    /// The JSON the console's agents see (no bookkeeping).
    pub(crate) fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "handoff_id": self.briefing.handoff_id,
            "conversation_id": self.briefing.conversation_id,
            "created_at": self.briefing.created_at,
            "updated_at": self.updated_at,
            "status": self.status,
            "target": self.target,
            "priority": self.priority,
            "assignee": self.assignee,
            "accepted_by": self.accepted_by,
            "closed_reason": self.closed_reason,
            "channel": self.briefing.channel,
            "customer": self.briefing.customer,
            "reason": self.briefing.reason,
            "summary": self.briefing.summary,
            "window": self.briefing.window,
            "transcript": self.transcript(),
        })
    }

    /// The briefing's lines, then every later one; agent replies with their `delivery`.
    fn transcript(&self) -> Vec<serde_json::Value> {
        let briefing = self
            .briefing
            .transcript
            .iter()
            .map(|l| serde_json::json!(l));
        let later = self.messages.iter().map(|l| {
            let mut v = serde_json::json!(l.line);
            if let Some(key) = &l.key {
                v["delivery"] = match self.deliveries.get(key) {
                    Some(d) => serde_json::json!(d),
                    None => serde_json::json!({"state": "sending", "at": l.line.at}),
                };
            }
            v
        });
        briefing.chain(later).collect()
    }

    /// Whether `q` (lower case) occurs in the customer's name or identities, the channel,
    /// the queue, the summary or any line of the transcript.
    pub(crate) fn matches(&self, q: &str) -> bool {
        let b = &self.briefing;
        let c = &b.customer;
        let hit = |s: &str| s.to_lowercase().contains(q);
        c.display_name.as_deref().is_some_and(hit)
            || c.identities.iter().any(|i| hit(&i.external_id))
            || hit(&b.channel)
            || hit(&self.target)
            || hit(&b.summary.text)
            || b.transcript.iter().any(|l| hit(&l.text))
            || self.messages.iter().any(|l| hit(&l.line.text))
    }
}

/// What a delivery or an agent action changed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    /// The handoff changed (or appeared): push it.
    Updated(Box<HandoffRecord>),
    /// It left the queue: tell agents.
    Closed(String),
    /// Nothing new (a retried delivery).
    Unchanged,
}

/// An agent action the console records after the core accepted it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    Accept,
    Message(String),
    /// An image or file, with its caption.
    Media(String, tandem_sdk::model::OutboundMedia),
    /// Resolved or released by the agent (the core sends no `Close` for the desk's own
    /// action): the console closes its copy with this reason.
    Finish(&'static str),
    /// Handed to another agent or queue: the core's `handoff.updated` (change
    /// `transferred`) updates the console's copy.
    Transfer,
}

/// Why an agent action can't go ahead.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    Unknown,
    NotOpen,
}

/// The console's records in the desk's key-value space. Every change reads a record,
/// changes it and writes it back with a compare-and-set ([`DeskEventSink::kv_swap`]): when
/// another replica wrote it in between, the change is redone on what it wrote, so
/// replicas sharing the store never lose each other's changes. Within a process one
/// lock serialises changes (no needless redo).
#[derive(Debug)]
pub(crate) struct Store {
    sink: DeskEventSink,
    lock: Mutex<()>,
}

fn handoff_key(id: &str) -> String {
    format!("handoff:{id}")
}

fn corrupt(what: &str, e: &serde_json::Error) -> InboundError {
    InboundError::Unavailable(format!("unreadable console {what}: {e}"))
}

impl Store {
    pub(crate) fn new(sink: DeskEventSink) -> Self {
        Self {
            sink,
            lock: Mutex::new(()),
        }
    }

    /// The desk's event sink.
    pub(crate) fn sink(&self) -> &DeskEventSink {
        &self.sink
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<HandoffRecord>, InboundError> {
        Ok(self.read(id).await?.0)
    }

    /// A record and the stored text it was read from (what [`Self::put_if`] compares).
    async fn read(
        &self,
        id: &str,
    ) -> Result<(Option<HandoffRecord>, Option<String>), InboundError> {
        match self.sink.kv_get(&handoff_key(id)).await? {
            None => Ok((None, None)),
            Some(text) => {
                let record = serde_json::from_str(&text).map_err(|e| corrupt("record", &e))?;
                Ok((Some(record), Some(text)))
            }
        }
    }

    /// Writes `record` if its stored text is still `read_as`; whether it did.
    async fn put_if(
        &self,
        record: &HandoffRecord,
        read_as: Option<&str>,
    ) -> Result<bool, InboundError> {
        let text = serde_json::to_string(record).map_err(|e| corrupt("record", &e))?;
        self.sink
            .kv_swap(&handoff_key(&record.briefing.handoff_id), read_as, &text)
            .await
    }

    async fn index(&self) -> Result<Vec<String>, InboundError> {
        match self.sink.kv_get(INDEX_KEY).await? {
            None => Ok(Vec::new()),
            Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("index", &e)),
        }
    }

    /// Changes the id list under `key` with `change` (which says whether it changed
    /// anything), redone on a newer list when another replica wrote it meanwhile.
    async fn update_list(
        &self,
        key: &str,
        what: &str,
        mut change: impl FnMut(&mut Vec<String>) -> bool,
    ) -> Result<(), InboundError> {
        for _ in 0..MAX_RACES {
            let read_as = self.sink.kv_get(key).await?;
            let mut list: Vec<String> = match &read_as {
                None => Vec::new(),
                Some(text) => serde_json::from_str(text).map_err(|e| corrupt(what, &e))?,
            };
            if !change(&mut list) {
                return Ok(());
            }
            let text = serde_json::to_string(&list).map_err(|e| corrupt(what, &e))?;
            if self.sink.kv_swap(key, read_as.as_deref(), &text).await? {
                return Ok(());
            }
        }
        Err(raced(what))
    }

    /// The open handoffs, most urgent first, then oldest first.
    pub(crate) async fn open_handoffs(&self) -> Result<Vec<HandoffRecord>, InboundError> {
        let mut out = Vec::new();
        for id in self.index().await? {
            if let Some(r) = self.get(&id).await? {
                out.push(r);
            }
        }
        out.sort_by(|a, b| {
            rank(&a.priority)
                .cmp(&rank(&b.priority))
                .then_with(|| a.briefing.created_at.cmp(&b.briefing.created_at))
        });
        Ok(out)
    }

    /// Applies one delivery from the core; idempotent on the delivery id.
    pub(crate) async fn apply(
        &self,
        delivery: &DeskDelivery,
        now: &str,
    ) -> Result<Change, ApplyError> {
        let _guard = self.lock.lock().await;
        for _ in 0..MAX_RACES {
            if let Some(change) = self.try_apply(delivery, now).await? {
                return Ok(change);
            }
        }
        Err(ApplyError::Store(raced("record")))
    }

    /// [`Self::apply`] once: `None` when another replica changed the record first.
    async fn try_apply(
        &self,
        delivery: &DeskDelivery,
        now: &str,
    ) -> Result<Option<Change>, ApplyError> {
        let id = delivery.op.handoff_id();
        let (existing, read_as) = self.read(id).await?;
        if let DeskOp::Open(briefing) = &delivery.op {
            let record = match existing {
                // A retried or repeated open: the record exists; make sure it is indexed.
                Some(r) if r.status == Status::Closed => return Ok(Some(Change::Unchanged)),
                Some(r) => r,
                None => {
                    let mut r = HandoffRecord::new((**briefing).clone(), now);
                    r.mark_applied(&delivery.id, now);
                    if !self.put_if(&r, None).await? {
                        return Ok(None);
                    }
                    r
                }
            };
            let mut added = false;
            self.update_list(INDEX_KEY, "index", |index| {
                added = !index.iter().any(|i| i == id);
                if added {
                    index.push(id.to_owned());
                }
                added
            })
            .await?;
            return Ok(Some(if added {
                Change::Updated(Box::new(record))
            } else {
                Change::Unchanged
            }));
        }
        let Some(mut record) = existing else {
            return Err(ApplyError::UnknownHandoff);
        };
        if record.status == Status::Closed && !record.has_applied(&delivery.id) {
            // Closed on the console's side (an agent resolved it) before this arrived.
            return Ok(Some(Change::Unchanged));
        }
        if record.has_applied(&delivery.id) {
            // Applied before; finish a close the index may have missed.
            if record.status == Status::Closed {
                self.unindex(id).await?;
            }
            return Ok(Some(Change::Unchanged));
        }
        match &delivery.op {
            // Handled above.
            DeskOp::Open(_) => return Ok(Some(Change::Unchanged)),
            DeskOp::Append(m) => record.messages.push(Line {
                line: m.message.clone(),
                key: None,
            }),
            DeskOp::Update(u) => {
                if let Some(t) = &u.target {
                    t.clone_into(&mut record.target);
                }
                if let Some(p) = &u.priority {
                    p.clone_into(&mut record.priority);
                }
                record.assignee.clone_from(&u.assignee);
                if u.change == "rerouted" {
                    record.accepted_by = None;
                    record.status = Status::Queued;
                }
                if u.change == "transferred" {
                    // To an agent (who holds it from now on) or back to a queue.
                    record.accepted_by.clone_from(&u.assignee);
                    record.status = if u.assignee.is_some() {
                        Status::Accepted
                    } else {
                        Status::Queued
                    };
                }
            }
            DeskOp::Close(c) => {
                record.status = Status::Closed;
                record.closed_reason = Some(c.reason.clone());
            }
        }
        record.mark_applied(&delivery.id, now);
        if !self.put_if(&record, read_as.as_deref()).await? {
            return Ok(None);
        }
        if record.status == Status::Closed {
            self.unindex(id).await?;
            return Ok(Some(Change::Closed(id.to_owned())));
        }
        Ok(Some(Change::Updated(Box::new(record))))
    }

    /// Takes `id` out of the open index and puts it first in the history.
    async fn unindex(&self, id: &str) -> Result<(), InboundError> {
        self.update_list(INDEX_KEY, "index", |index| {
            let before = index.len();
            index.retain(|i| i != id);
            index.len() != before
        })
        .await?;
        self.update_list(CLOSED_KEY, "history", |closed| {
            if closed.first().map(String::as_str) == Some(id) {
                return false;
            }
            closed.retain(|i| i != id);
            closed.insert(0, id.to_owned());
            closed.truncate(MAX_HISTORY);
            true
        })
        .await
    }

    async fn closed_index(&self) -> Result<Vec<String>, InboundError> {
        match self.sink.kv_get(CLOSED_KEY).await? {
            None => Ok(Vec::new()),
            Some(text) => serde_json::from_str(&text).map_err(|e| corrupt("history", &e)),
        }
    }

    /// Closed handoffs, newest first, whose customer, channel, queue, summary or
    /// transcript contains `query` (case-insensitive; empty: all), at most `limit`.
    pub(crate) async fn history(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<HandoffRecord>, InboundError> {
        let q = query.trim().to_lowercase();
        let mut out = Vec::new();
        for id in self.closed_index().await? {
            if out.len() >= limit {
                break;
            }
            if let Some(r) = self.get(&id).await?
                && (q.is_empty() || r.matches(&q))
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Records how far an agent reply got; the handoff changed (also when closed: the
    /// history shows it) or `Unchanged` when it is not one of this console's.
    pub(crate) async fn reply_delivery(
        &self,
        report: &ReplyDelivery,
    ) -> Result<Change, InboundError> {
        let _guard = self.lock.lock().await;
        for _ in 0..MAX_RACES {
            let (Some(mut record), read_as) = self.read(&report.handoff_id).await? else {
                return Ok(Change::Unchanged);
            };
            let view = DeliveryView {
                state: report.state.clone(),
                detail: report.detail.clone(),
                at: report.at.clone(),
            };
            if record.deliveries.get(&report.event_key) == Some(&view) {
                return Ok(Change::Unchanged);
            }
            record.deliveries.insert(report.event_key.clone(), view);
            if record.deliveries.len() > MAX_APPLIED {
                let oldest = record.deliveries.keys().next().cloned();
                if let Some(k) = oldest.filter(|k| k != &report.event_key) {
                    record.deliveries.remove(&k);
                }
            }
            if self.put_if(&record, read_as.as_deref()).await? {
                return Ok(Change::Updated(Box::new(record)));
            }
        }
        Err(raced("record"))
    }

    /// Whether an agent action with dedupe key `key` on `id` should go ahead: `false` when
    /// it was recorded before (a resent frame), an error when it can't.
    pub(crate) async fn actionable(&self, id: &str, key: &str) -> Result<bool, ActionError> {
        match self.get(id).await? {
            None => Err(ActionError::Refused(Refusal::Unknown)),
            Some(r) if r.has_applied(key) => Ok(false),
            Some(r) if r.status == Status::Closed => Err(ActionError::Refused(Refusal::NotOpen)),
            Some(_) => Ok(true),
        }
    }

    /// Records an agent action the core accepted (dedupe key `key`); `Unchanged` when it
    /// was recorded before or the handoff closed meanwhile.
    pub(crate) async fn record_action(
        &self,
        id: &str,
        key: &str,
        agent: &Agent,
        action: Action,
        now: &str,
    ) -> Result<Change, InboundError> {
        let _guard = self.lock.lock().await;
        for _ in 0..MAX_RACES {
            if let Some(change) = self
                .try_record_action(id, key, agent, action.clone(), now)
                .await?
            {
                return Ok(change);
            }
        }
        Err(raced("record"))
    }

    /// [`Self::record_action`] once: `None` when another replica changed the record first.
    async fn try_record_action(
        &self,
        id: &str,
        key: &str,
        agent: &Agent,
        action: Action,
        now: &str,
    ) -> Result<Option<Change>, InboundError> {
        let (Some(mut record), read_as) = self.read(id).await? else {
            return Ok(Some(Change::Unchanged));
        };
        if record.has_applied(key) || record.status == Status::Closed {
            return Ok(Some(Change::Unchanged));
        }
        // Media is recorded as a message line carrying the link (shown inline).
        let (action, media) = match action {
            Action::Media(caption, m) => {
                let (text, media) = media_line(caption, m);
                (Action::Message(text), Some(media))
            }
            other => (other, None),
        };
        match action {
            Action::Accept => {
                record.status = Status::Accepted;
                record.accepted_by = Some(agent.clone());
            }
            Action::Message(text) => {
                if record.accepted_by.is_none() {
                    // The first reply takes the handoff (as on the other desks).
                    record.status = Status::Accepted;
                    record.accepted_by = Some(agent.clone());
                }
                record.messages.push(Line {
                    line: TranscriptLine {
                        from: "agent".into(),
                        channel: record.briefing.channel.clone(),
                        at: now.to_owned(),
                        text,
                        media,
                    },
                    key: Some(key.to_owned()),
                });
            }
            Action::Finish(reason) => {
                record.status = Status::Closed;
                record.closed_reason = Some(reason.to_owned());
            }
            // Turned into a message above.
            Action::Transfer | Action::Media(..) => {}
        }
        record.mark_applied(key, now);
        if !self.put_if(&record, read_as.as_deref()).await? {
            return Ok(None);
        }
        if record.status == Status::Closed {
            self.unindex(id).await?;
            return Ok(Some(Change::Closed(id.to_owned())));
        }
        Ok(Some(Change::Updated(Box::new(record))))
    }
}

/// A record that kept changing under this replica's hands (store trouble to retry).
fn raced(what: &str) -> InboundError {
    InboundError::Unavailable(format!(
        "the console {what} kept changing concurrently; try again"
    ))
}

/// A delivery the console could not apply.
#[derive(Debug)]
pub(crate) enum ApplyError {
    /// The store is unavailable: retry.
    Store(InboundError),
    /// Not a handoff this console opened.
    UnknownHandoff,
}

impl From<InboundError> for ApplyError {
    fn from(e: InboundError) -> Self {
        Self::Store(e)
    }
}

/// The text and media of an agent's media line.
fn media_line(
    caption: String,
    m: tandem_sdk::model::OutboundMedia,
) -> (String, tandem_sdk::handoff::MediaLink) {
    let link = m.as_link_text();
    let text = if caption.trim().is_empty() {
        link
    } else {
        format!("{caption}\n{link}")
    };
    let media = tandem_sdk::handoff::MediaLink {
        kind: m.kind.as_str().into(),
        url: Some(m.url),
        mime_type: m.mime_type,
        caption: (!caption.trim().is_empty()).then_some(caption),
        reference: None,
    };
    (text, media)
}

/// An agent action that can't go ahead.
#[derive(Debug)]
pub(crate) enum ActionError {
    Store(InboundError),
    Refused(Refusal),
}

impl From<InboundError> for ActionError {
    fn from(e: InboundError) -> Self {
        Self::Store(e)
    }
}

/// Sort rank of a priority: most urgent first.
pub(crate) fn rank(priority: &str) -> u8 {
    match priority {
        "immediate" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}
