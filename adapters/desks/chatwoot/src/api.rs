//! The Chatwoot Application API calls the desk makes, their wire types, and how failures
//! are classified for the outbox. Auth is the `api_access_token` header (not `Authorization`).

use crate::config::ChatwootDeskConfig;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tandem_sdk::AdapterError;

/// `POST …/contacts` answer.
#[derive(Debug, Deserialize)]
pub(crate) struct CreateContactResponse {
    pub(crate) payload: ContactPayload,
}

/// The `payload` of a created contact.
#[derive(Debug, Deserialize)]
pub(crate) struct ContactPayload {
    pub(crate) contact: Contact,
    #[serde(default)]
    pub(crate) contact_inbox: Option<ContactInbox>,
}

/// A contact.
#[derive(Debug, Deserialize)]
pub(crate) struct Contact {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) identifier: Option<String>,
    #[serde(default)]
    pub(crate) contact_inboxes: Vec<ContactInbox>,
}

/// A contact's membership of an inbox.
#[derive(Debug, Deserialize)]
pub(crate) struct ContactInbox {
    pub(crate) source_id: String,
    #[serde(default)]
    pub(crate) inbox: Option<InboxRef>,
}

/// An inbox reference.
#[derive(Debug, Deserialize)]
pub(crate) struct InboxRef {
    pub(crate) id: u64,
}

/// `GET …/contacts/search` answer.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchResponse {
    #[serde(default)]
    pub(crate) payload: Vec<Contact>,
}

/// Anything with an `id` (a created conversation or message).
#[derive(Debug, Deserialize)]
pub(crate) struct WithId {
    pub(crate) id: u64,
}

/// A contact ready for conversations in the configured inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContactRef {
    pub(crate) id: u64,
    pub(crate) source_id: String,
}

/// A failed call: the HTTP status when Chatwoot answered, and the classified error.
#[derive(Debug)]
pub(crate) struct Failed {
    status: Option<u16>,
    error: AdapterError,
}

impl From<Failed> for AdapterError {
    fn from(f: Failed) -> Self {
        f.error
    }
}

/// A thin client of the Chatwoot API.
#[derive(Clone)]
pub(crate) struct ChatwootApi {
    config: Arc<ChatwootDeskConfig>,
    http: reqwest::Client,
}

impl ChatwootApi {
    pub(crate) fn new(config: Arc<ChatwootDeskConfig>, http: reqwest::Client) -> Self {
        Self { config, http }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        what: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<T, Failed> {
        let response = req
            .header("api_access_token", self.config.api_access_token.expose())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| Failed {
                status: None,
                error: AdapterError::transient(format!("Chatwoot {what}: unreachable"))
                    .with_source(e),
            })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let retry_after = tandem_sdk::http::retry_after(response.headers());
            return Err(Failed {
                status: Some(status),
                error: classify(what, status, retry_after),
            });
        }
        response.json().await.map_err(|e| Failed {
            status: Some(status),
            error: AdapterError::transient(format!("Chatwoot {what}: unreadable answer"))
                .with_source(e),
        })
    }

    async fn post<T: DeserializeOwned>(
        &self,
        what: &'static str,
        path: &str,
        body: &Value,
    ) -> Result<T, Failed> {
        self.send(what, self.http.post(self.config.url(path)).json(body))
            .await
    }

    /// Creates a contact in the configured inbox; `Ok(None)` when the identifier is taken.
    pub(crate) async fn create_contact(
        &self,
        body: &Value,
    ) -> Result<Option<ContactRef>, AdapterError> {
        match self
            .post::<CreateContactResponse>("create contact", "contacts", body)
            .await
        {
            Ok(r) => {
                let source_id = r
                    .payload
                    .contact_inbox
                    .map(|ci| ci.source_id)
                    .or_else(|| self.source_in_inbox(&r.payload.contact))
                    .ok_or_else(|| {
                        AdapterError::transient("Chatwoot created a contact without an inbox")
                    })?;
                Ok(Some(ContactRef {
                    id: r.payload.contact.id,
                    source_id,
                }))
            }
            // "Identifier has already been taken" (or another validation error, which a
            // search then settles).
            Err(Failed {
                status: Some(422), ..
            }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn source_in_inbox(&self, contact: &Contact) -> Option<String> {
        contact
            .contact_inboxes
            .iter()
            .find(|ci| {
                ci.inbox
                    .as_ref()
                    .is_some_and(|i| i.id == self.config.inbox_id)
            })
            .map(|ci| ci.source_id.clone())
    }

    /// Finds the contact with `identifier` and makes sure it is in the configured inbox.
    pub(crate) async fn existing_contact(
        &self,
        identifier: &str,
    ) -> Result<ContactRef, AdapterError> {
        let url = self.config.url("contacts/search");
        let found: SearchResponse = self
            .send(
                "search contacts",
                self.http.get(url).query(&[("q", identifier)]),
            )
            .await?;
        let contact = found
            .payload
            .into_iter()
            .find(|c| c.identifier.as_deref() == Some(identifier))
            .ok_or_else(|| {
                AdapterError::rejected(
                    "Chatwoot refused the contact and no contact has its identifier",
                )
            })?;
        if let Some(source_id) = self.source_in_inbox(&contact) {
            return Ok(ContactRef {
                id: contact.id,
                source_id,
            });
        }
        let ci: ContactInbox = self
            .post(
                "add contact to inbox",
                &format!("contacts/{}/contact_inboxes", contact.id),
                &json!({"inbox_id": self.config.inbox_id}),
            )
            .await?;
        Ok(ContactRef {
            id: contact.id,
            source_id: ci.source_id,
        })
    }

    /// Creates a conversation; returns its display id.
    pub(crate) async fn create_conversation(&self, body: &Value) -> Result<u64, AdapterError> {
        Ok(self
            .post::<WithId>("create conversation", "conversations", body)
            .await?
            .id)
    }

    /// Posts a message; returns its id.
    pub(crate) async fn message(
        &self,
        conversation: u64,
        content: &str,
        message_type: &str,
        private: bool,
    ) -> Result<u64, AdapterError> {
        let body = json!({"content": content, "message_type": message_type, "private": private, "content_type": "text"});
        Ok(self
            .post::<WithId>(
                "create message",
                &format!("conversations/{conversation}/messages"),
                &body,
            )
            .await?
            .id)
    }

    /// Sets the delivery status of message `message` (`sent`, `delivered`, `read`,
    /// `failed` with `external_error` shown to the agent): `PATCH …/messages/{id}`, for
    /// messages of API-channel inboxes (newer Chatwoot; older ones answer 404).
    pub(crate) async fn message_status(
        &self,
        conversation: u64,
        message: u64,
        status: &str,
        external_error: Option<&str>,
    ) -> Result<(), AdapterError> {
        let mut body = json!({ "status": status });
        if let Some(error) = external_error {
            body["external_error"] = json!(error);
        }
        let url = self
            .config
            .url(&format!("conversations/{conversation}/messages/{message}"));
        self.send::<Value>("update message status", self.http.patch(url).json(&body))
            .await?;
        Ok(())
    }

    /// Sets a conversation's status.
    pub(crate) async fn toggle_status(
        &self,
        conversation: u64,
        status: &str,
    ) -> Result<(), AdapterError> {
        self.post::<Value>(
            "toggle status",
            &format!("conversations/{conversation}/toggle_status"),
            &json!({ "status": status }),
        )
        .await?;
        Ok(())
    }
}

/// Classifies a non-2xx answer.
pub(crate) fn classify(what: &str, status: u16, retry_after: Option<Duration>) -> AdapterError {
    let message = format!("Chatwoot {what}: HTTP {status}");
    match status {
        // Not found: a deleted conversation or a wrong account/inbox id.
        404 | 422 => AdapterError::rejected(message),
        _ => AdapterError::from_status(status, retry_after, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_sdk::ErrorKind;

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify("x", 401, None).kind(), ErrorKind::Auth);
        assert_eq!(classify("x", 403, None).kind(), ErrorKind::Auth);
        assert_eq!(classify("x", 404, None).kind(), ErrorKind::Rejected);
        assert_eq!(classify("x", 422, None).kind(), ErrorKind::Rejected);
        assert_eq!(classify("x", 500, None).kind(), ErrorKind::Transient);
        assert_eq!(classify("x", 503, None).kind(), ErrorKind::Transient);
        let limited = classify("x", 429, Some(Duration::from_secs(4)));
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(4)));
    }

    #[test]
    fn contact_fixture_parses() {
        let r: CreateContactResponse = serde_json::from_str(include_str!(
            "../tests/fixtures/create_contact_response.json"
        ))
        .unwrap();
        assert_eq!(r.payload.contact.id, 901);
        assert_eq!(
            r.payload.contact_inbox.unwrap().source_id,
            "b1f0a2c3-d4e5-4f60-9a7b-8c9d0e1f2a3b"
        );
        assert_eq!(
            r.payload.contact.contact_inboxes[0]
                .inbox
                .as_ref()
                .unwrap()
                .id,
            12
        );
        let t: Value = serde_json::from_str(include_str!(
            "../tests/fixtures/toggle_status_response.json"
        ))
        .unwrap();
        assert_eq!(t["payload"]["current_status"], "open");
    }
}
