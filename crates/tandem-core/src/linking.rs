//! Link codes: a customer known on one channel asks to continue on another; the admin API
//! (or a channel's UI) issues a short single-use code, and the code arriving on the other
//! channel (typed as a message, or as Telegram's `/start <code>` / a Messenger `ref`) links
//! that channel's identity to the customer as verified. Redemption happens before the bot
//! sees the message; the customer is told whether it worked. The redemption and the link
//! are two writes: the store remembers who redeemed a code, so that when the process dies
//! between them, the retried message (still pending in the inbound log) redeems "again"
//! as the same sender and completes the link.

use crate::router::Core;
use crate::store::{
    LinkCode, LinkCodeIssue, LinkCodeRedemption, MergeTrigger, PendingInbound, StoreError,
};
use rand::Rng;
use tandem_model::{Content, CustomerId, Timestamp};
use tracing::debug;

pub use crate::config::CODE_TTL;
use crate::engine::claims::ALPHABET;
pub use crate::engine::claims::{CODE_LEN, candidate};
/// Active codes a customer may hold at once.
pub const MAX_ACTIVE: usize = 5;

/// What the customer hears after a successful link.
pub const LINKED_NOTICE: &str = "You're linked: we'll continue your conversation here.";
/// What the customer hears for an expired code.
pub const EXPIRED_NOTICE: &str =
    "That code has expired, so nothing was linked. Ask for a new one where you got it.";
/// What the customer hears for a code that was used before (by someone else).
pub const USED_NOTICE: &str =
    "That code was already used, so nothing was linked. Ask for a new one where you got it.";

/// The `Content::Start` source marking a redeemed code.
pub(crate) const LINKED_SOURCE: &str = "link_code";
/// The `Content::Start` source marking an expired code.
pub(crate) const EXPIRED_SOURCE: &str = "link_code_expired";
/// The `Content::Start` source marking a code used before.
pub(crate) const USED_SOURCE: &str = "link_code_used";

impl Core {
    /// Issues a code for `customer`; `Ok(None)` when the customer is unknown,
    /// `Err(Conflict)` when they hold too many active codes.
    pub async fn issue_link_code(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<LinkCode>, StoreError> {
        let now = self.inner.clock.now();
        let ttl = self.inner.config.link_code_ttl;
        for _ in 0..5 {
            let code: String = {
                let mut rng = rand::rng();
                (0..CODE_LEN)
                    .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
                    .collect()
            };
            let link = LinkCode {
                code,
                customer_id: customer.clone(),
                created_at: now,
                expires_at: now + ttl,
            };
            match self.inner.store.create_link_code(&link, MAX_ACTIVE).await {
                Ok(LinkCodeIssue::Issued) => return Ok(Some(link)),
                Ok(LinkCodeIssue::UnknownCustomer) => return Ok(None),
                Ok(LinkCodeIssue::TooMany) => {
                    return Err(StoreError::Conflict(format!(
                        "at most {MAX_ACTIVE} active link codes per customer"
                    )));
                }
                // Drew an existing code: draw again.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict("could not draw a fresh code".into()))
    }

    /// Redeems a code carried by `pending`, linking its sender to the code's customer. On
    /// a redeemed, expired or used code the message becomes a `Start` marked for the turn
    /// to answer (linked, or why not); anything else, including a code-shaped word that is
    /// no code, is left alone.
    pub(crate) async fn redeem_if_code(
        &self,
        pending: &mut PendingInbound,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let code = match &pending.message.content {
            Content::Text { text } => candidate(text),
            Content::Start {
                payload: Some(p), ..
            } => candidate(p),
            _ => None,
        };
        let Some(code) = code else { return Ok(()) };
        let store = &self.inner.store;
        let redeemer = redeemer_key(&pending.message.sender);
        let source = match store.redeem_link_code(&code, &redeemer, now).await? {
            LinkCodeRedemption::Unknown => return Ok(()),
            LinkCodeRedemption::Expired => EXPIRED_SOURCE,
            // Sent again by the identity it linked: that identity is linked, say so.
            LinkCodeRedemption::AlreadyUsed(customer) => {
                let sender = &pending.message.sender;
                let owner = store
                    .customer_by_identity(&sender.channel, &sender.subject)
                    .await?;
                if owner.is_some_and(|o| o.id == customer) {
                    LINKED_SOURCE
                } else {
                    USED_SOURCE
                }
            }
            LinkCodeRedemption::Redeemed(customer) => {
                let mut identity = pending.message.sender.clone();
                identity.verified = true;
                match store
                    .link_identity(&customer, &identity, LINKED_SOURCE, now)
                    .await
                {
                    Ok(_) => {}
                    // The sender is already someone: that customer joins the code's one.
                    Err(StoreError::Conflict(_)) => {
                        if let Some(existing) = store
                            .customer_by_identity(&identity.channel, &identity.subject)
                            .await?
                            && existing.id != customer
                        {
                            let trigger = MergeTrigger {
                                actor: LINKED_SOURCE.into(),
                                key: None,
                                source: format!("{}/{}", identity.channel, identity.subject),
                            };
                            store
                                .merge_customers(&customer, &existing.id, &trigger, now)
                                .await?;
                        }
                    }
                    Err(e) => return Err(e),
                }
                LINKED_SOURCE
            }
        };
        debug!(outcome = source, "A link code arrived.");
        mark(pending, source);
        Ok(())
    }
}

/// Who redeems a code, as the store keeps it: a digest of the sender's channel and
/// subject (the code row outlives nothing personal in clear text). The same sender always
/// gives the same key, so a retry of the same message finds its own redemption.
fn redeemer_key(sender: &tandem_model::ExternalIdentity) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(sender.channel.as_str().as_bytes());
    h.update([0]);
    h.update(sender.subject.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Replaces the message by a `Start` carrying the redemption's outcome for the turn.
fn mark(pending: &mut PendingInbound, source: &str) {
    pending.message.content = Content::Start {
        payload: None,
        source: Some(source.to_owned()),
    };
}
