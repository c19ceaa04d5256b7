//! Unverified claims: an email address or phone number a customer types in a message.
//! When another customer holds that fact as verified, the pair becomes a suggested link
//! (reason `unverified_claim`) for a person to review; nothing is ever merged on a claim.
//!
//! The scan is one pass over the text and runs only on plain text messages; the store is
//! asked only when an email-shaped token (something with an `@`) or an international phone
//! number (starting with `+`) is present. Claims are never logged.

use crate::router::Core;
use crate::store::{KeyKind, VerifiedKey};
use tandem_model::{CustomerId, ExternalIdentity, Timestamp};
use tracing::{debug, warn};

pub use crate::engine::claims::{MAX_CLAIMS, claimed_keys};

impl Core {
    /// Records a suggested link for each fact `text` claims that `sender` does not carry
    /// verified and that another customer holds verified. Idempotent (the store records
    /// a pair and key once); a store failure is logged and the message processed anyway,
    /// because a suggestion is advice, not part of the turn.
    pub(crate) async fn suggest_from_claims(
        &self,
        customer: &CustomerId,
        sender: &ExternalIdentity,
        text: &str,
        now: Timestamp,
    ) {
        let verified = VerifiedKey::of(sender);
        for key in claimed_keys(text) {
            if verified.contains(&key) {
                continue;
            }
            let kind = match key.kind {
                KeyKind::Email => "email",
                KeyKind::Phone => "phone",
            };
            match self.inner.store.suggest_link(customer, &key, now).await {
                Ok(Some(_)) => debug!(
                    claim.kind = kind,
                    "An unverified claim matches another customer's verified fact; suggested link recorded."
                ),
                Ok(None) => {}
                Err(error) => warn!(
                    %error,
                    claim.kind = kind,
                    "Recording a suggested link failed; the message is processed without it."
                ),
            }
        }
    }
}
