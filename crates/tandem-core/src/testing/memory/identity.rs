//! The identity side of [`MemoryStore`]: customers, identities, events, the verified
//! identity graph (joins and merges on verified keys, merge and unmerge, link and unlink,
//! the audit trail, suggested links), link codes and the GDPR erasure. Which customer
//! survives a merge, what a merge records and how it is audited are the shared rules of
//! `store::merge`; this module only reads what a merge moves and moves it.

use super::{Customer, LinkCodeRow, MemoryStore, Merge, State, conflict};
use crate::engine::handoff::ms;
use crate::store::{
    AuditEntry, AuditKind, CustomerEvent, CustomerRecord, CustomerUpdate, ERASED_TEXT,
    ErasureReport, Identities, IdentityRecord, IdentityRef, KeyHolders, KeyKind, LinkCode,
    LinkCodeIssue, LinkCodeRedemption, MergeMoves, MergeRecord, MergeTrigger, StoreError,
    SuggestedLink, VerifiedKey, absorb, check_merge,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use tandem_model::{
    ChannelId, Content, ConversationId, CustomerId, ExternalIdentity, OutboundContent, Timestamp,
};

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:032x}", rand::random::<u128>())
}

fn erased_content() -> Content {
    Content::Text {
        text: ERASED_TEXT.to_owned(),
    }
}

fn encode(what: &str, value: impl serde::Serialize) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value)
        .map_err(|e| StoreError::Unavailable(format!("encoding {what}: {e}")))
}

/// Whether `identity` carries the verified fact `key` (emails compare case-insensitively).
fn carries(identity: &IdentityRecord, key: &VerifiedKey) -> bool {
    match key.kind {
        KeyKind::Email => identity
            .verified_email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(&key.value)),
        KeyKind::Phone => identity.verified_phone.as_deref() == Some(key.value.as_str()),
    }
}

impl State {
    fn customer_record(&self, id: &CustomerId) -> Option<CustomerRecord> {
        self.customers.get(id).map(|c| c.record.clone())
    }

    fn identity_index(&self, channel: &ChannelId, subject: &str) -> Option<usize> {
        self.identities
            .iter()
            .position(|i| i.channel == *channel && i.subject == subject)
    }

    /// The customers (other than `except`) owning an identity that matches, oldest first.
    fn owners(
        &self,
        matches: impl Fn(&IdentityRecord) -> bool,
        except: Option<&CustomerId>,
    ) -> Vec<CustomerId> {
        let mut found: Vec<&CustomerRecord> = self
            .identities
            .iter()
            .filter(|i| matches(i) && Some(&i.customer_id) != except)
            .filter_map(|i| self.customers.get(&i.customer_id).map(|c| &c.record))
            .collect();
        found.sort_by_key(|c| (c.created_at, c.id.clone()));
        found.dedup_by(|a, b| a.id == b.id);
        found.into_iter().map(|c| c.id.clone()).collect()
    }

    /// The customers (other than `except`) one of whose identities holds `key`.
    fn holders(&self, key: &VerifiedKey, except: Option<&CustomerId>) -> Vec<CustomerId> {
        self.owners(|i| carries(i, key), except)
    }

    /// Whether an undone merge or an unlink separated `a` and `b`: they are not merged
    /// again automatically.
    fn separated(&self, a: &CustomerId, b: &CustomerId) -> bool {
        let pair = |x: &CustomerId, y: Option<&CustomerId>| {
            (x == a && y == Some(b)) || (x == b && y == Some(a))
        };
        self.merges.iter().any(|m| {
            m.record.unmerged_at.is_some() && pair(&m.record.survivor, Some(&m.record.merged))
        }) || self.audit.iter().any(|e| {
            e.kind == AuditKind::Unlink && pair(&e.customer_id, e.other_customer_id.as_ref())
        })
    }

    /// Records a suggested link unless that (customer, other, key) is suggested already.
    fn suggest(
        &mut self,
        customer: &CustomerId,
        other: &CustomerId,
        key: &VerifiedKey,
        reason: &str,
        now: Timestamp,
    ) {
        let known = self
            .suggestions
            .iter()
            .any(|s| s.customer_id == *customer && s.other_customer_id == *other && s.key == *key);
        if !known {
            self.suggestions.push(SuggestedLink {
                customer_id: customer.clone(),
                other_customer_id: other.clone(),
                key: key.clone(),
                reason: reason.to_owned(),
                at: now,
            });
        }
    }

    /// Stores the verified facts an identity carries (never clears one it does not carry).
    fn store_facts(&mut self, channel: &ChannelId, subject: &str, keys: &[VerifiedKey]) {
        let Some(i) = self.identity_index(channel, subject) else {
            return;
        };
        for key in keys {
            let fact = match key.kind {
                KeyKind::Email => &mut self.identities[i].verified_email,
                KeyKind::Phone => &mut self.identities[i].verified_phone,
            };
            *fact = Some(key.value.clone());
        }
    }

    fn new_customer(&mut self, display_name: Option<String>, now: Timestamp) -> CustomerId {
        let id = CustomerId::generate();
        let record = CustomerRecord {
            id: id.clone(),
            display_name,
            segment: None,
            attributes: BTreeMap::new(),
            created_at: now,
        };
        let merged_into = None;
        self.customers.insert(
            id.clone(),
            Customer {
                record,
                merged_into,
            },
        );
        id
    }

    /// Moves what belongs to `from` among `conversations` (`None`: all of them) to `to`:
    /// the conversations, their transcript entries and escalation events.
    fn move_conversations(
        &mut self,
        from: &CustomerId,
        to: &CustomerId,
        conversations: Option<&[ConversationId]>,
    ) {
        let chosen = |id: &ConversationId| conversations.is_none_or(|ids| ids.contains(id));
        for c in self.conversations.values_mut() {
            if c.customer_id == *from && chosen(&c.id) {
                c.customer_id = to.clone();
            }
        }
        let entries = self.transcript.iter_mut().filter(|(id, _)| chosen(id));
        for e in entries.flat_map(|(_, t)| t.values_mut()) {
            if e.customer_id == *from {
                e.customer_id = to.clone();
            }
        }
        for e in &mut self.escalations {
            if e.customer_id == *from && chosen(&e.conversation_id) {
                e.customer_id = to.clone();
            }
        }
    }

    /// See [`Identities::merge_customers`].
    fn merge(
        &mut self,
        survivor: &CustomerId,
        merged: &CustomerId,
        trigger: &MergeTrigger,
        now: Timestamp,
    ) -> Result<Option<MergeRecord>, StoreError> {
        check_merge(survivor, merged)?;
        let (Some(s), Some(m)) = (self.customers.get(survivor), self.customers.get(merged)) else {
            return Ok(None);
        };
        if s.merged_into.is_some() || m.merged_into.is_some() {
            return Err(conflict(
                "one of the customers was already merged into another",
            ));
        }
        let identities = self
            .identities
            .iter()
            .filter(|i| i.customer_id == *merged)
            .map(|i| IdentityRef {
                channel: i.channel.clone(),
                subject: i.subject.clone(),
            })
            .collect();
        let mut conversations: Vec<_> = self
            .conversations
            .values()
            .filter(|c| c.customer_id == *merged)
            .map(|c| (c.opened_at, c.id.clone()))
            .collect();
        conversations.sort();
        let mut events: Vec<_> = self
            .events
            .iter()
            .filter(|e| e.customer_id == *merged)
            .map(|e| (e.at, e.id.clone()))
            .collect();
        events.sort();
        let closed_conversation = self
            .open_conversation_of(survivor)
            .and(self.open_conversation_of(merged))
            .map(|c| c.id.clone());
        let moves = MergeMoves {
            identities,
            conversations: conversations.into_iter().map(|(_, id)| id).collect(),
            closed_conversation: closed_conversation.clone(),
            events: events.into_iter().map(|(_, id)| id).collect(),
        };
        let record = MergeRecord::new(survivor, merged, trigger, moves, now);
        let audit = record.merge_audit()?;

        if let Some(c) = closed_conversation.and_then(|id| self.conversations.get_mut(&id)) {
            // `updated_at` stays (last activity), so that unmerge restores it exactly.
            c.status = crate::store::ConversationStatus::Closed;
            c.version += 1;
        }
        for i in &mut self.identities {
            if i.customer_id == *merged {
                i.customer_id = survivor.clone();
            }
        }
        self.move_conversations(merged, survivor, None);
        for e in &mut self.events {
            if e.customer_id == *merged {
                e.customer_id = survivor.clone();
            }
        }
        if let Some(m) = self.customers.get_mut(merged) {
            m.merged_into = Some(survivor.clone());
        }
        self.audit.push(audit);
        let erased = false;
        self.merges.push(Merge {
            record: record.clone(),
            erased,
        });
        Ok(Some(record))
    }

    /// See [`Identities::unmerge`].
    fn unmerge(
        &mut self,
        merge_id: &str,
        now: Timestamp,
    ) -> Result<Option<MergeRecord>, StoreError> {
        let Some(pos) = self.merges.iter().position(|m| m.record.id == merge_id) else {
            return Ok(None);
        };
        let merge = &self.merges[pos];
        if merge.record.unmerged_at.is_some() {
            return Err(conflict(format!("merge {merge_id} was already undone")));
        }
        if merge.erased {
            return Err(conflict(format!(
                "merge {merge_id} cannot be undone: its details were erased"
            )));
        }
        let mut record = merge.record.clone();
        record.unmerged_at = Some(now);
        let merge_detail = record.merge_audit()?.detail;
        let undone = record.unmerge_audit(now)?;

        let (to, from) = (&record.merged, &record.survivor);
        for r in &record.identities {
            if let Some(i) = self.identity_index(&r.channel, &r.subject)
                && self.identities[i].customer_id == *from
            {
                self.identities[i].customer_id = to.clone();
            }
        }
        self.move_conversations(from, to, Some(&record.conversations));
        for e in &mut self.events {
            if e.customer_id == *from && record.events.contains(&e.id) {
                e.customer_id = to.clone();
            }
        }
        if let Some(closed) = &record.closed_conversation
            && self.open_conversation_of(to).is_none()
            && let Some(c) = self.conversations.get_mut(closed)
            && c.customer_id == *to
            && c.status == crate::store::ConversationStatus::Closed
        {
            c.status = crate::store::ConversationStatus::Open;
            c.version += 1;
        }
        if let Some(c) = self.customers.get_mut(to) {
            c.merged_into = None;
        }
        if let Some(entry) = self.audit.iter_mut().find(|e| e.id == merge_id) {
            entry.detail = merge_detail;
        }
        self.audit.push(undone);
        self.merges[pos].record = record.clone();
        Ok(Some(record))
    }

    /// See [`Identities::resolve_customer`].
    fn resolve(
        &mut self,
        identity: &ExternalIdentity,
        now: Timestamp,
    ) -> Result<CustomerRecord, StoreError> {
        let (channel, subject) = (&identity.channel, identity.subject.as_str());
        let keys = VerifiedKey::of(identity);
        let id = match self.identity_index(channel, subject) {
            Some(i) => {
                self.identities[i].verified |= identity.verified;
                self.identities[i].customer_id.clone()
            }
            None => {
                // A new identity carrying a verified key joins the key's (oldest) holder.
                let joined = keys
                    .iter()
                    .find_map(|k| self.holders(k, None).into_iter().next());
                let id = match joined {
                    Some(id) => id,
                    None => self.new_customer(identity.display_name.clone(), now),
                };
                self.identities.push(IdentityRecord {
                    customer_id: id.clone(),
                    channel: channel.clone(),
                    subject: subject.to_owned(),
                    verified: identity.verified,
                    source: "platform".to_owned(),
                    verified_email: None,
                    verified_phone: None,
                    created_at: now,
                });
                id
            }
        };
        self.store_facts(channel, subject, &keys);
        let source = format!("{channel}/{subject}");
        let id = absorb(self, id, &keys, "verified_key", &source, now)?;
        let customer = self.customers.get_mut(&id).ok_or_else(|| {
            StoreError::Corrupt(format!("identity {source} points at a missing customer"))
        })?;
        if let Some(name) = &identity.display_name {
            customer.record.display_name = Some(name.clone());
        }
        Ok(customer.record.clone())
    }

    /// See [`Identities::link_identity`].
    fn link(
        &mut self,
        customer: &CustomerId,
        identity: &ExternalIdentity,
        source: &str,
        now: Timestamp,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        match self.customers.get(customer) {
            None => return Ok(None),
            Some(c) if c.merged_into.is_some() => {
                return Err(conflict("the customer was merged into another"));
            }
            Some(_) => {}
        }
        let (channel, subject) = (&identity.channel, identity.subject.as_str());
        match self.identity_index(channel, subject) {
            Some(i) if self.identities[i].customer_id != *customer => {
                return Err(conflict("the identity belongs to another customer"));
            }
            Some(i) => self.identities[i].verified = true,
            None => self.identities.push(IdentityRecord {
                customer_id: customer.clone(),
                channel: channel.clone(),
                subject: subject.to_owned(),
                verified: true,
                source: source.to_owned(),
                verified_email: None,
                verified_phone: None,
                created_at: now,
            }),
        }
        let keys = VerifiedKey::of(identity);
        self.store_facts(channel, subject, &keys);
        self.audit.push(AuditEntry {
            id: new_id("lnk"),
            kind: AuditKind::Link,
            customer_id: customer.clone(),
            other_customer_id: None,
            actor: source.to_owned(),
            at: now,
            detail: serde_json::json!({
                "channel": channel.as_str(),
                "subject": subject,
                "source": source,
                "keys": keys.iter().map(VerifiedKey::label).collect::<Vec<_>>(),
            }),
        });
        let origin = format!("{channel}/{subject}");
        absorb(self, customer.clone(), &keys, source, &origin, now)?;
        Ok(self
            .identity_index(channel, subject)
            .map(|i| self.identities[i].clone()))
    }

    /// See [`Identities::unlink_identity`].
    fn unlink(
        &mut self,
        customer: &CustomerId,
        channel: &ChannelId,
        subject: &str,
        now: Timestamp,
    ) -> Option<CustomerRecord> {
        let i = self
            .identity_index(channel, subject)
            .filter(|i| self.identities[*i].customer_id == *customer)?;
        let new = self.new_customer(None, now);
        self.identities[i].customer_id = new.clone();
        self.audit.push(AuditEntry {
            id: new_id("unl"),
            kind: AuditKind::Unlink,
            customer_id: customer.clone(),
            other_customer_id: Some(new.clone()),
            actor: "admin".into(),
            at: now,
            detail: serde_json::json!({ "channel": channel.as_str(), "subject": subject }),
        });
        self.customer_record(&new)
    }

    /// See [`Identities::erase_customer`]: the customer and every customer merged into it
    /// (their records stayed behind).
    fn erase(
        &mut self,
        customer: &CustomerId,
        now: Timestamp,
    ) -> Result<Option<ErasureReport>, StoreError> {
        if !self.customers.contains_key(customer) {
            return Ok(None);
        }
        let mut people = vec![customer.clone()];
        let mut i = 0;
        while let Some(person) = people.get(i).cloned() {
            for c in self.customers.values() {
                if c.merged_into.as_ref() == Some(&person) && !people.contains(&c.record.id) {
                    people.push(c.record.id.clone());
                }
            }
            i += 1;
        }
        let mut report = ErasureReport::default();
        for person in &people {
            self.erase_one(person, now, &mut report);
        }
        self.audit.push(AuditEntry {
            id: new_id("era"),
            kind: AuditKind::Erase,
            customer_id: customer.clone(),
            other_customer_id: None,
            actor: "admin".into(),
            at: now,
            detail: encode("an erasure", report)?,
        });
        Ok(Some(report))
    }

    fn erase_one(&mut self, person: &CustomerId, now: Timestamp, report: &mut ErasureReport) {
        let identities: Vec<(ChannelId, String)> = self
            .identities
            .iter()
            .filter(|i| i.customer_id == *person)
            .map(|i| (i.channel.clone(), i.subject.clone()))
            .collect();
        for (channel, subject) in &identities {
            // Processed inbound records stay as redacted dedupe keys; the others go.
            let sent_by = |m: &tandem_model::InboundMessage| {
                m.channel == *channel && m.sender.subject == *subject
            };
            let mut unprocessed = Vec::new();
            for (seq, r) in &mut self.inbound {
                if !sent_by(&r.message) {
                    continue;
                }
                if r.processed_at.is_some() {
                    r.message.sender = ExternalIdentity::new(channel.clone(), ERASED_TEXT);
                    r.message.content = erased_content();
                } else {
                    unprocessed.push(*seq);
                }
            }
            for seq in unprocessed {
                if let Some(r) = self.inbound.remove(&seq) {
                    let key = (
                        r.message.channel,
                        r.message.platform_message_id.as_str().into(),
                    );
                    self.inbound_keys.remove(&key);
                }
            }
            self.reachability
                .remove(&(channel.clone(), subject.clone()));
            if !subject.is_empty() {
                self.kv.retain(|(namespace, key), value| {
                    namespace != channel.as_str()
                        || !(key.contains(subject.as_str()) || value.contains(subject.as_str()))
                });
            }
        }
        let before = self.identities.len();
        self.identities.retain(|i| i.customer_id != *person);
        report.identities += (before - self.identities.len()) as u64;

        let mut conversations: Vec<ConversationId> = self
            .conversations
            .values()
            .filter(|c| c.customer_id == *person)
            .map(|c| c.id.clone())
            .collect();
        conversations.sort();
        for id in conversations {
            let mut refs = vec![id.as_str().to_owned()];
            if let Some(c) = self.conversations.get_mut(&id) {
                refs.extend(c.state.erase_personal());
                c.version += 1;
                c.updated_at = now;
            }
            for e in self
                .transcript
                .get_mut(&id)
                .into_iter()
                .flat_map(|t| t.values_mut())
            {
                e.content = erased_content();
                e.buttons.clear();
                report.transcript_entries += 1;
            }
            let before = self.ai_audit.len();
            self.ai_audit.retain(|r| r.conversation_id != id);
            report.ai_audit_records += (before - self.ai_audit.len()) as u64;
            for o in self.outbox.values_mut() {
                if o.entry.message.conversation_id != id {
                    continue;
                }
                o.entry.message.recipient = ERASED_TEXT.to_owned();
                o.entry.message.content = OutboundContent::text(ERASED_TEXT);
                if o.unfinished() {
                    o.release(crate::store::OutboxStatus::Failed);
                    o.entry.last_error = Some("erased".to_owned());
                }
            }
            // Desk references (ticket ↔ handoff maps, posted briefings) and desk events.
            for r in refs.iter().filter(|r| !r.is_empty()) {
                self.kv.retain(|(_, key), value| {
                    !key.contains(r.as_str()) && !value.contains(r.as_str())
                });
                for record in self.inbound.values_mut() {
                    let names_it = serde_json::to_string(&record.message)
                        .is_ok_and(|json| json.contains(r.as_str()));
                    if record.message.channel.as_str().starts_with("desk:") && names_it {
                        record.message.content = erased_content();
                    }
                }
            }
            report.conversations += 1;
        }
        for e in self.events.iter_mut().filter(|e| e.customer_id == *person) {
            e.data = serde_json::Value::Null;
            report.events += 1;
        }
        if let Some(c) = self.customers.get_mut(person) {
            c.record.display_name = None;
            c.record.segment = None;
            c.record.attributes.clear();
        }
        let involves = |a: &CustomerId, b: Option<&CustomerId>| a == person || b == Some(person);
        for e in &mut self.audit {
            if involves(&e.customer_id, e.other_customer_id.as_ref()) {
                e.detail = serde_json::json!({ "erased": true });
            }
        }
        for m in &mut self.merges {
            if involves(&m.record.survivor, Some(&m.record.merged)) {
                m.erased = true;
                m.record.identities.clear();
                m.record.trigger.key = None;
                m.record.trigger.source = ERASED_TEXT.to_owned();
            }
        }
        self.suggestions
            .retain(|s| !involves(&s.customer_id, Some(&s.other_customer_id)));
        self.link_codes.retain(|_, c| c.code.customer_id != *person);
    }
}

#[async_trait]
impl Identities for MemoryStore {
    async fn resolve_customer(
        &self,
        identity: &ExternalIdentity,
        now: Timestamp,
    ) -> Result<CustomerRecord, StoreError> {
        self.lock().resolve(identity, now)
    }

    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerRecord>, StoreError> {
        Ok(self.lock().customer_record(id))
    }

    async fn identities(&self, customer: &CustomerId) -> Result<Vec<IdentityRecord>, StoreError> {
        let s = self.lock();
        let mine = s.identities.iter().filter(|i| i.customer_id == *customer);
        Ok(mine.cloned().collect())
    }

    async fn customer_by_identity(
        &self,
        channel: &ChannelId,
        subject: &str,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let s = self.lock();
        let owner = s.identity_index(channel, subject);
        Ok(owner.and_then(|i| s.customer_record(&s.identities[i].customer_id)))
    }

    async fn customers_by_email(&self, email: &str) -> Result<Vec<CustomerRecord>, StoreError> {
        let s = self.lock();
        let email = email.trim();
        let matches = |i: &IdentityRecord| {
            i.verified_email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        };
        let owners = s.owners(matches, None);
        Ok(owners
            .iter()
            .filter_map(|id| s.customer_record(id))
            .collect())
    }

    async fn update_customer(
        &self,
        id: &CustomerId,
        update: CustomerUpdate,
        _now: Timestamp,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        let mut s = self.lock();
        let Some(customer) = s.customers.get_mut(id) else {
            return Ok(None);
        };
        let record = &mut customer.record;
        for (key, value) in update.attributes {
            if value.is_null() {
                record.attributes.remove(&key);
            } else {
                record.attributes.insert(key, value);
            }
        }
        if let Some(name) = update.display_name {
            record.display_name = Some(name);
        }
        if let Some(segment) = update.segment {
            record.segment = segment;
        }
        Ok(Some(record.clone()))
    }

    async fn record_customer_event(&self, event: &CustomerEvent) -> Result<bool, StoreError> {
        let mut s = self.lock();
        if s.events.iter().any(|e| e.id == event.id) {
            return Ok(false);
        }
        if !s.customers.contains_key(&event.customer_id) {
            return Err(conflict("unknown customer"));
        }
        s.events.push(event.clone());
        Ok(true)
    }

    async fn customer_events(
        &self,
        customer: &CustomerId,
        since: Timestamp,
    ) -> Result<Vec<CustomerEvent>, StoreError> {
        let s = self.lock();
        let mut found: Vec<CustomerEvent> = s
            .events
            .iter()
            .filter(|e| e.customer_id == *customer && e.at >= since)
            .cloned()
            .collect();
        found.sort_by_key(|e| (e.at, e.id.clone()));
        Ok(found)
    }

    async fn merge_customers(
        &self,
        survivor: &CustomerId,
        merged: &CustomerId,
        trigger: &MergeTrigger,
        now: Timestamp,
    ) -> Result<Option<MergeRecord>, StoreError> {
        self.lock().merge(survivor, merged, trigger, now)
    }

    async fn unmerge(
        &self,
        merge_id: &str,
        now: Timestamp,
    ) -> Result<Option<MergeRecord>, StoreError> {
        self.lock().unmerge(merge_id, now)
    }

    async fn link_identity(
        &self,
        customer: &CustomerId,
        identity: &ExternalIdentity,
        source: &str,
        now: Timestamp,
    ) -> Result<Option<IdentityRecord>, StoreError> {
        self.lock().link(customer, identity, source, now)
    }

    async fn unlink_identity(
        &self,
        customer: &CustomerId,
        channel: &ChannelId,
        subject: &str,
        now: Timestamp,
    ) -> Result<Option<CustomerRecord>, StoreError> {
        Ok(self.lock().unlink(customer, channel, subject, now))
    }

    async fn identity_audit(&self, customer: &CustomerId) -> Result<Vec<AuditEntry>, StoreError> {
        let s = self.lock();
        let mine = s.audit.iter().filter(|e| {
            e.customer_id == *customer || e.other_customer_id.as_ref() == Some(customer)
        });
        Ok(mine.cloned().collect())
    }

    async fn suggest_link(
        &self,
        customer: &CustomerId,
        key: &VerifiedKey,
        now: Timestamp,
    ) -> Result<Option<SuggestedLink>, StoreError> {
        let mut s = self.lock();
        let Some(other) = s.holders(key, Some(customer)).into_iter().next() else {
            return Ok(None);
        };
        s.suggest(customer, &other, key, "unverified_claim", now);
        Ok(s.suggestions
            .iter()
            .find(|l| l.customer_id == *customer && l.other_customer_id == other && l.key == *key)
            .cloned())
    }

    async fn suggested_links(
        &self,
        customer: &CustomerId,
    ) -> Result<Vec<SuggestedLink>, StoreError> {
        let s = self.lock();
        let mut found: Vec<SuggestedLink> = s
            .suggestions
            .iter()
            .filter(|l| l.customer_id == *customer || l.other_customer_id == *customer)
            .cloned()
            .collect();
        found.sort_by_key(|l| (l.at, l.customer_id.clone(), l.other_customer_id.clone()));
        Ok(found)
    }

    async fn erase_customer(
        &self,
        customer: &CustomerId,
        now: Timestamp,
    ) -> Result<Option<ErasureReport>, StoreError> {
        self.lock().erase(customer, now)
    }

    async fn create_link_code(
        &self,
        code: &LinkCode,
        max_active: usize,
    ) -> Result<LinkCodeIssue, StoreError> {
        let mut s = self.lock();
        if !s.customers.contains_key(&code.customer_id) {
            return Ok(LinkCodeIssue::UnknownCustomer);
        }
        let active = s
            .link_codes
            .values()
            .filter(|c| c.code.customer_id == code.customer_id)
            .filter(|c| c.used.is_none() && c.code.expires_at > code.created_at)
            .count();
        if active >= max_active {
            return Ok(LinkCodeIssue::TooMany);
        }
        if s.link_codes.contains_key(&code.code) {
            return Err(conflict("link code already exists"));
        }
        let row = LinkCodeRow {
            code: code.clone(),
            used: None,
        };
        s.link_codes.insert(code.code.clone(), row);
        Ok(LinkCodeIssue::Issued)
    }

    async fn redeem_link_code(
        &self,
        code: &str,
        redeemer: &str,
        now: Timestamp,
    ) -> Result<LinkCodeRedemption, StoreError> {
        let mut s = self.lock();
        let Some(row) = s.link_codes.get_mut(code) else {
            return Ok(LinkCodeRedemption::Unknown);
        };
        let customer = row.code.customer_id.clone();
        Ok(match &row.used {
            None if row.code.expires_at > now => {
                row.used = Some((now, redeemer.to_owned()));
                LinkCodeRedemption::Redeemed(customer)
            }
            None => LinkCodeRedemption::Expired,
            Some((_, by)) if by == redeemer => LinkCodeRedemption::Redeemed(customer),
            Some(_) => LinkCodeRedemption::AlreadyUsed(customer),
        })
    }
}

/// The shared merge rules ([`absorb`]) over the in-memory state.
impl KeyHolders for State {
    fn holders_of(
        &mut self,
        key: &VerifiedKey,
        except: Option<&CustomerId>,
    ) -> Result<Vec<CustomerId>, StoreError> {
        Ok(State::holders(self, key, except))
    }

    fn were_separated(&mut self, a: &CustomerId, b: &CustomerId) -> Result<bool, StoreError> {
        Ok(State::separated(self, a, b))
    }

    fn created_ms(&mut self, id: &CustomerId) -> Result<Option<i64>, StoreError> {
        Ok(self.customer_record(id).map(|c| ms(c.created_at)))
    }

    fn record_suggestion(
        &mut self,
        customer: &CustomerId,
        other: &CustomerId,
        key: &VerifiedKey,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        State::suggest(self, customer, other, key, reason, now);
        Ok(())
    }

    fn merge_into(
        &mut self,
        survivor: &CustomerId,
        merged: &CustomerId,
        trigger: &MergeTrigger,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        State::merge(self, survivor, merged, trigger, now).map(drop)
    }
}
