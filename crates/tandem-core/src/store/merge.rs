//! The identity-merge rules both stores follow, written once: which of two customers
//! holding one verified key survives, what a merge records, and how a merge and its
//! undoing are audited. The stores only read what a merge moves and move it.

use super::{
    AuditEntry, AuditKind, IdentityRef, MergeRecord, MergeTrigger, StoreError, VerifiedKey,
};
use tandem_model::{ConversationId, CustomerId, Timestamp};

/// Which of two customers holding one verified key survives their merge: the one created
/// first (the lower id on a tie), except that a customer the resolution has just created
/// (`claimant_fresh`) always joins the holder. Answers `(survivor, merged)`.
pub fn merge_order(
    claimant: (&CustomerId, i64),
    claimant_fresh: bool,
    holder: (&CustomerId, i64),
) -> (CustomerId, CustomerId) {
    let (mine, theirs) = ((claimant.1, claimant.0), (holder.1, holder.0));
    if claimant_fresh || theirs < mine {
        (holder.0.clone(), claimant.0.clone())
    } else {
        (claimant.0.clone(), holder.0.clone())
    }
}

/// What [`absorb`] asks of a store, inside the write that resolves an identity.
pub trait KeyHolders {
    /// The customers (other than `except`) one of whose identities holds `key`, oldest
    /// first.
    fn holders_of(
        &mut self,
        key: &VerifiedKey,
        except: Option<&CustomerId>,
    ) -> Result<Vec<CustomerId>, StoreError>;
    /// Whether an undone merge or an unlink separated `a` and `b`.
    fn were_separated(&mut self, a: &CustomerId, b: &CustomerId) -> Result<bool, StoreError>;
    /// When customer `id` was created, unix ms (`None`: unknown).
    fn created_ms(&mut self, id: &CustomerId) -> Result<Option<i64>, StoreError>;
    /// Records a suggested link of `customer` and `other` through `key`, for `reason`.
    fn record_suggestion(
        &mut self,
        customer: &CustomerId,
        other: &CustomerId,
        key: &VerifiedKey,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// Merges `merged` into `survivor` (as `Identities::merge_customers`).
    fn merge_into(
        &mut self,
        survivor: &CustomerId,
        merged: &CustomerId,
        trigger: &MergeTrigger,
        now: Timestamp,
    ) -> Result<(), StoreError>;
}

/// Merges every other holder of `keys` into `customer` (or `customer` into an older
/// holder, [`merge_order`]), except customers an undone merge or an unlink separated from
/// it, which are only suggested (`unmerged_before`). The merges' trigger names `actor`
/// and `source`. Returns the customer that remains.
pub fn absorb(
    store: &mut impl KeyHolders,
    mut customer: CustomerId,
    keys: &[VerifiedKey],
    actor: &str,
    source: &str,
    now: Timestamp,
) -> Result<CustomerId, StoreError> {
    for key in keys {
        for other in store.holders_of(key, Some(&customer))? {
            if store.were_separated(&customer, &other)? {
                store.record_suggestion(&customer, &other, key, "unmerged_before", now)?;
                continue;
            }
            let (Some(mine), Some(theirs)) =
                (store.created_ms(&customer)?, store.created_ms(&other)?)
            else {
                continue;
            };
            let (survivor, merged) = merge_order((&customer, mine), false, (&other, theirs));
            let trigger = MergeTrigger::verified_key(actor, key, source);
            store.merge_into(&survivor, &merged, &trigger, now)?;
            customer = survivor;
        }
    }
    Ok(customer)
}

/// A customer cannot be merged with itself (`Conflict`).
pub fn check_merge(survivor: &CustomerId, merged: &CustomerId) -> Result<(), StoreError> {
    if survivor == merged {
        return Err(StoreError::Conflict(
            "a customer cannot be merged with itself".into(),
        ));
    }
    Ok(())
}

/// What a merge moves from the merged customer to the survivor, as the store read it.
#[derive(Debug, Clone, Default)]
pub struct MergeMoves {
    /// The merged customer's identities, oldest first.
    pub identities: Vec<IdentityRef>,
    /// The merged customer's conversations.
    pub conversations: Vec<ConversationId>,
    /// The merged customer's open conversation, closed because the survivor has one open.
    pub closed_conversation: Option<ConversationId>,
    /// The merged customer's business events (ids).
    pub events: Vec<String>,
}

impl MergeTrigger {
    /// An automatic merge: both customers hold `key`, brought by `source`
    /// (`<channel>/<subject>`).
    pub fn verified_key(actor: &str, key: &VerifiedKey, source: &str) -> MergeTrigger {
        MergeTrigger {
            actor: actor.to_owned(),
            key: Some(key.clone()),
            source: source.to_owned(),
        }
    }
}

impl MergeRecord {
    /// A merge of `merged` into `survivor` made now, under a fresh id (`mrg_...`).
    pub fn new(
        survivor: &CustomerId,
        merged: &CustomerId,
        trigger: &MergeTrigger,
        moves: MergeMoves,
        now: Timestamp,
    ) -> MergeRecord {
        MergeRecord {
            id: format!("mrg_{:032x}", rand::random::<u128>()),
            survivor: survivor.clone(),
            merged: merged.clone(),
            trigger: trigger.clone(),
            identities: moves.identities,
            conversations: moves.conversations,
            closed_conversation: moves.closed_conversation,
            events: moves.events,
            at: now,
            unmerged_at: None,
        }
    }

    /// The survivor's audit entry of this merge (it has the merge's id).
    pub fn merge_audit(&self) -> Result<AuditEntry, StoreError> {
        Ok(AuditEntry {
            id: self.id.clone(),
            kind: AuditKind::Merge,
            customer_id: self.survivor.clone(),
            other_customer_id: Some(self.merged.clone()),
            actor: self.trigger.actor.clone(),
            at: self.at,
            detail: self.detail()?,
        })
    }

    /// The survivor's audit entry of undoing this merge (an admin's act) at `now`.
    pub fn unmerge_audit(&self, now: Timestamp) -> Result<AuditEntry, StoreError> {
        Ok(AuditEntry {
            id: format!("unm_{:032x}", rand::random::<u128>()),
            kind: AuditKind::Unmerge,
            customer_id: self.survivor.clone(),
            other_customer_id: Some(self.merged.clone()),
            actor: "admin".into(),
            at: now,
            detail: self.detail()?,
        })
    }

    fn detail(&self) -> Result<serde_json::Value, StoreError> {
        serde_json::to_value(self)
            .map_err(|e| StoreError::Unavailable(format!("encoding a merge: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_older_customer_survives_unless_the_claimant_is_new() {
        let (a, b) = (CustomerId::new("cus_a"), CustomerId::new("cus_b"));
        assert_eq!(merge_order((&a, 5), false, (&b, 9)), (a.clone(), b.clone()));
        assert_eq!(merge_order((&a, 9), false, (&b, 5)), (b.clone(), a.clone()));
        // A tie goes to the lower id.
        assert_eq!(merge_order((&b, 5), false, (&a, 5)), (a.clone(), b.clone()));
        // A customer just created joins the holder, however old.
        assert_eq!(merge_order((&a, 1), true, (&b, 9)), (b.clone(), a.clone()));
    }

    #[test]
    fn a_merge_and_its_undoing_are_audited_on_the_survivor() {
        let (a, b) = (CustomerId::new("cus_a"), CustomerId::new("cus_b"));
        let key = VerifiedKey {
            kind: super::super::KeyKind::Email,
            value: "x@example.com".into(),
        };
        let trigger = MergeTrigger::verified_key("verified_key", &key, "webchat/v1");
        let now = tandem_model::now();
        let record = MergeRecord::new(&a, &b, &trigger, MergeMoves::default(), now);
        assert!(record.id.starts_with("mrg_") && record.id.len() == 36);
        let merged = record.merge_audit().unwrap();
        assert_eq!(merged.id, record.id);
        assert_eq!(
            (merged.kind, merged.actor.as_str()),
            (AuditKind::Merge, "verified_key")
        );
        assert_eq!(merged.customer_id, a);
        assert_eq!(merged.other_customer_id, Some(b.clone()));
        assert_eq!(merged.detail["trigger"]["source"], "webchat/v1");
        let undone = record.unmerge_audit(now).unwrap();
        assert_ne!(undone.id, record.id);
        assert_eq!(
            (undone.kind, undone.actor.as_str()),
            (AuditKind::Unmerge, "admin")
        );
    }
}
