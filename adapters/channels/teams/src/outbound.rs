//! Sending through the Bot Connector: `POST {serviceUrl}/v3/conversations/{id}/activities`
//! to the user's stored 1:1 conversation (a proactive one is created first when Tandem
//! has none), with plain text, or an Adaptive Card whose buttons are `Action.Submit`
//! (they come back as postbacks). Connector statuses → [`AdapterError`] kinds.

use crate::api::{OutAccount, OutActivity};
use crate::config::TeamsConfig;
use crate::connector::Connector;
use crate::state::{self, ConversationRef};
use async_trait::async_trait;
use serde_json::{Value, json};
use std::sync::Arc;
use tandem_sdk::model::{
    Capabilities, ChoiceStyle, Delivery, DeliveryState, OutboundContent, OutboundMessage, Party,
};
use tandem_sdk::{AdapterError, ChannelAdapter, InboundSink};

pub(crate) struct TeamsAdapter {
    config: Arc<TeamsConfig>,
    connector: Arc<Connector>,
    sink: InboundSink,
    caps: Capabilities,
}

/// Where one send goes.
struct Target {
    service_url: String,
    conversation_id: String,
    user_id: String,
}

impl TeamsAdapter {
    pub(crate) fn new(
        config: Arc<TeamsConfig>,
        connector: Arc<Connector>,
        sink: InboundSink,
        caps: Capabilities,
    ) -> Self {
        Self {
            config,
            connector,
            sink,
            caps,
        }
    }

    /// The stored reference of `subject`.
    async fn reference(&self, subject: &str) -> Result<Option<ConversationRef>, AdapterError> {
        state::load_ref(&self.sink, subject).await.map_err(|e| {
            AdapterError::transient("reading the conversation reference failed").with_source(e)
        })
    }

    /// The conversation to post to: the stored 1:1 chat, else a new one (proactive),
    /// when a `serviceUrl` and a tenant are known; else the user is unreachable.
    async fn target(&self, subject: &str) -> Result<Target, AdapterError> {
        let stored = self.reference(subject).await?;
        if let Some(r) = &stored
            && let Some(conversation_id) = &r.conversation_id
        {
            return Ok(Target {
                service_url: r.service_url.clone(),
                conversation_id: conversation_id.clone(),
                user_id: r.user_id.clone(),
            });
        }
        let service_url = stored
            .as_ref()
            .map(|r| r.service_url.clone())
            .or_else(|| self.config.service_url.clone());
        let tenant = stored
            .as_ref()
            .and_then(|r| r.tenant_id.clone())
            .or_else(|| self.config.tenant_id.clone());
        let (Some(service_url), Some(tenant)) = (service_url, tenant) else {
            return Err(AdapterError::unreachable(
                "no Teams conversation with this user yet, and no service_url and tenant to open one",
            ));
        };
        // A user known only by subject: the Entra object id works for 1:1 chats.
        let user_id = stored
            .as_ref()
            .map(|r| r.user_id.clone())
            .unwrap_or_else(|| subject.to_owned());
        let bot_id = self.config.bot_id();
        let created = self
            .connector
            .create_conversation(&service_url, &bot_id, &user_id, &tenant)
            .await?;
        let reference = ConversationRef {
            service_url: created.service_url.unwrap_or(service_url),
            conversation_id: Some(created.id.clone()),
            tenant_id: Some(tenant),
            bot_id,
            user_id: user_id.clone(),
        };
        // Best effort: without it the next send creates (finds) the conversation again.
        if state::store_ref(&self.sink, subject, &reference)
            .await
            .is_err()
        {
            tracing::warn!(
                channel.id = %self.sink.channel(),
                "Storing a new Teams conversation reference failed; the next send opens it again."
            );
        }
        Ok(Target {
            service_url: reference.service_url,
            conversation_id: created.id,
            user_id,
        })
    }
}

#[async_trait]
impl ChannelAdapter for TeamsAdapter {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// A Teams attachment's `reference` is its URL: an image's `contentUrl` on the Bot
    /// Connector (fetched with the bot's token), or a file's pre-authenticated
    /// `downloadUrl` on SharePoint (fetched without one). The token goes only to the
    /// Bot Connector's hosts (or the configured `service_url`); other URLs are refused.
    async fn fetch_media(
        &self,
        reference: &str,
        max_bytes: usize,
    ) -> Result<tandem_sdk::media::FetchedMedia, tandem_sdk::media::MediaError> {
        let Some((url, with_token)) =
            attachment_access(reference, self.config.service_url.as_deref())
        else {
            return Err(tandem_sdk::media::MediaError::NotFound);
        };
        let mut request = self.connector.http().get(url.clone());
        if with_token {
            request = request.bearer_auth(self.connector.token().await?);
        }
        let media = tandem_sdk::media::download(request, max_bytes).await?;
        // A Bot Connector path ends in `views/original`: no name to take from it.
        Ok(if with_token {
            media
        } else {
            media.or_named_after(&url)
        })
    }

    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError> {
        let (text, attachments) = render(&msg.content, &self.caps)?;
        let target = self.target(&msg.recipient).await?;
        let bot_id = self.config.bot_id();
        let activity = OutActivity {
            kind: "message",
            from: OutAccount { id: &bot_id },
            conversation: OutAccount {
                id: &target.conversation_id,
            },
            recipient: OutAccount {
                id: &target.user_id,
            },
            text_format: text.map(|_| "plain"),
            text,
            attachments,
        };
        let id = self
            .connector
            .send_activity(&target.service_url, &target.conversation_id, &activity)
            .await?;
        Ok(Delivery {
            platform_message_id: id,
            state: DeliveryState::Sent,
        })
    }

    async fn typing(&self, recipient: &str, _from: Party) -> Result<(), AdapterError> {
        // Best effort, and never the reason to open a conversation.
        let Some(r) = self.reference(recipient).await? else {
            return Ok(());
        };
        let Some(conversation_id) = &r.conversation_id else {
            return Ok(());
        };
        let bot_id = self.config.bot_id();
        let activity = OutActivity {
            kind: "typing",
            from: OutAccount { id: &bot_id },
            conversation: OutAccount {
                id: conversation_id,
            },
            recipient: OutAccount { id: &r.user_id },
            text: None,
            text_format: None,
            attachments: Vec::new(),
        };
        self.connector
            .send_activity(&r.service_url, conversation_id, &activity)
            .await
            .map(|_| ())
    }
}

/// The text and attachments for `content`, or `Unsupported` beyond the capabilities:
/// plain text, or an Adaptive Card (the text in a `TextBlock`, one `Action.Submit` per
/// button carrying `{"payload", "title"}`).
pub(crate) fn render<'a>(
    content: &'a OutboundContent,
    caps: &Capabilities,
) -> Result<(Option<&'a str>, Vec<Value>), AdapterError> {
    if content.template.is_some() {
        return Err(AdapterError::unsupported("Teams has no message templates"));
    }
    if content.tag.is_some() {
        return Err(AdapterError::unsupported("Teams has no message tags"));
    }
    let text = content.text.as_str();
    if let Some(media) = &content.media {
        return Ok(render_media(text, media));
    }
    if text.trim().is_empty() {
        return Err(AdapterError::unsupported("empty message"));
    }
    if text.chars().count() > caps.max_text_len {
        return Err(AdapterError::unsupported(format!(
            "text longer than {} characters",
            caps.max_text_len
        )));
    }
    if content.buttons.is_empty() {
        return Ok((Some(text), Vec::new()));
    }
    let fits = content.style == ChoiceStyle::Buttons
        && content.buttons.len() <= caps.max_buttons
        && content.buttons.iter().all(|b| {
            !b.title.trim().is_empty()
                && b.title.chars().count() <= caps.max_button_title_len
                && !b.payload.is_empty()
                && (caps.max_payload_bytes == 0 || b.payload.len() <= caps.max_payload_bytes)
        });
    if !fits {
        return Err(AdapterError::unsupported(format!(
            "choices beyond Teams' limits ({} card buttons, titles of {} characters)",
            caps.max_buttons, caps.max_button_title_len
        )));
    }
    let actions: Vec<Value> = content
        .buttons
        .iter()
        .map(|b| {
            json!({
                "type": "Action.Submit",
                "title": b.title,
                "data": {"payload": b.payload, "title": b.title},
            })
        })
        .collect();
    let card = json!({
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {
            "type": "AdaptiveCard",
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": "1.5",
            "body": [{"type": "TextBlock", "text": text, "wrap": true}],
            "actions": actions,
        },
    });
    Ok((None, vec![card]))
}

/// Media from an agent or a bot, its caption as the text: an image as an attachment
/// Teams shows inline (its client loads `contentUrl`); any other file as a card with a
/// button that opens its link (Teams takes files from bots only through a consent flow).
fn render_media<'a>(
    caption: &'a str,
    media: &tandem_sdk::model::OutboundMedia,
) -> (Option<&'a str>, Vec<Value>) {
    let text = Some(caption).filter(|t| !t.trim().is_empty());
    let name = media.filename.clone().unwrap_or_default();
    if media.kind == tandem_sdk::model::MediaKind::Image {
        let mime = media
            .mime_type
            .clone()
            .filter(|m| m.starts_with("image/"))
            .unwrap_or_else(|| "image/png".to_owned());
        let mut attachment = json!({"contentType": mime, "contentUrl": media.url});
        if !name.is_empty() {
            attachment["name"] = json!(name);
        }
        return (text, vec![attachment]);
    }
    let title = if name.is_empty() {
        "Open the file".to_owned()
    } else {
        format!("Open {name}")
    };
    let card = json!({
        "contentType": "application/vnd.microsoft.card.adaptive",
        "content": {
            "type": "AdaptiveCard",
            "version": "1.5",
            "body": [{"type": "TextBlock", "text": if name.is_empty() { "A file" } else { name.as_str() }, "wrap": true}],
            "actions": [{"type": "Action.OpenUrl", "title": title, "url": media.url}],
        },
    });
    (text, vec![card])
}

/// Where an attachment URL may be fetched from, and whether with the bot's token: https
/// on the Bot Connector (`smba.trafficmanager.net`, `*.botframework.com`) or on the
/// configured `service_url`'s origin, with it; https on SharePoint (`*.sharepoint.com`,
/// pre-authenticated download URLs), without; nothing else.
fn attachment_access(reference: &str, service_url: Option<&str>) -> Option<(url::Url, bool)> {
    let url = url::Url::parse(reference).ok()?;
    let configured = service_url
        .and_then(|s| url::Url::parse(s).ok())
        .is_some_and(|s| s.origin() == url.origin());
    if configured {
        return Some((url, true));
    }
    if url.scheme() != "https" {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    if host == "smba.trafficmanager.net" || host.ends_with(".botframework.com") {
        return Some((url, true));
    }
    host.ends_with(".sharepoint.com").then_some((url, false))
}

#[cfg(test)]
mod attachment_tests {
    use super::{attachment_access, render};
    use tandem_sdk::model::{MediaKind, OutboundContent, OutboundMedia};

    #[test]
    fn images_go_inline_and_other_files_as_a_card_that_opens_them() {
        let caps = crate::capabilities(
            &toml::from_str("app_id = \"a\"\napp_password = \"b\"").expect("config"),
        );
        let content = |kind: MediaKind, text: &str| OutboundContent {
            text: text.into(),
            media: Some(OutboundMedia {
                kind,
                url: "https://tandem.example/media/abc".into(),
                mime_type: Some("image/jpeg".into()),
                filename: Some("label.jpg".into()),
            }),
            ..OutboundContent::default()
        };
        let image = content(MediaKind::Image, "Your label");
        let (text, attachments) = render(&image, &caps).unwrap();
        assert_eq!(text, Some("Your label"));
        assert_eq!(attachments[0]["contentType"], "image/jpeg");
        assert_eq!(
            attachments[0]["contentUrl"],
            "https://tandem.example/media/abc"
        );
        let file = content(MediaKind::Document, "");
        let (text, attachments) = render(&file, &caps).unwrap();
        assert_eq!(text, None, "no empty text");
        assert_eq!(
            attachments[0]["content"]["actions"][0]["url"],
            "https://tandem.example/media/abc"
        );
    }

    #[test]
    fn the_token_goes_only_to_the_bot_connector() {
        let with = |u: &str| attachment_access(u, None).map(|(_, token)| token);
        assert_eq!(
            with("https://smba.trafficmanager.net/emea/v3/attachments/0-a/views/original"),
            Some(true)
        );
        assert_eq!(
            with("https://europe.webchat.botframework.com/v3/attachments/x"),
            Some(true)
        );
        assert_eq!(
            with("https://contoso-my.sharepoint.com/personal/a/_layouts/download.aspx?x=1"),
            Some(false),
            "a pre-authenticated file link, fetched without the token"
        );
        for refused in [
            "http://smba.trafficmanager.net/emea/v3/attachments/0-a",
            "https://evil.trafficmanager.net/v3/attachments/0-a",
            "https://botframework.com.evil.example/x",
            "https://example.org/a.png",
            "file:///etc/passwd",
        ] {
            assert_eq!(with(refused), None, "{refused}");
        }
        assert_eq!(
            attachment_access(
                "http://127.0.0.1:9/teams/v3/attachments/a/views/original",
                Some("http://127.0.0.1:9/teams/")
            )
            .map(|(_, token)| token),
            Some(true),
            "the configured service URL's origin"
        );
    }
}
