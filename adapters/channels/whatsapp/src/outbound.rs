//! Sending through the Cloud API: text, reply buttons (≤ 3), list (≤ 10 rows), an image
//! or document by link (caption ≤ 1024 characters), or an approved template; the Graph error code → [`AdapterError`] kind (channel-contracts
//! §1.8). Content beyond the declared capabilities is refused as `Unsupported` before
//! any request: the core shapes replies so that this never happens in practice.

use crate::api::{
    Action, BodyText, Component, Language, MediaInfo, OutButton, OutInteractive, OutMedia,
    OutTemplate, OutText, Parameter, Row, Section, SendBody, SendRequest, SendResponse,
};
use crate::config::WhatsAppConfig;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;
use tandem_sdk::media::{FetchedMedia, MediaError};
use tandem_sdk::model::{
    Capabilities, ChoiceStyle, Delivery, DeliveryState, MediaKind, OutboundContent,
    OutboundMessage, TemplateMessage,
};
use tandem_sdk::{AdapterError, ChannelAdapter, ErrorKind};

/// Longest body of an interactive message.
const MAX_INTERACTIVE_BODY: usize = 1024;
/// Longest reply-button id.
const MAX_BUTTON_ID: usize = 256;
/// Longest list-row id.
const MAX_ROW_ID: usize = 200;

pub(crate) struct WhatsAppAdapter {
    config: Arc<WhatsAppConfig>,
    http: reqwest::Client,
    caps: Capabilities,
    url: String,
}

impl WhatsAppAdapter {
    pub(crate) fn new(
        config: Arc<WhatsAppConfig>,
        http: reqwest::Client,
        caps: Capabilities,
    ) -> Self {
        let url = format!(
            "{}/{}/{}/messages",
            config.api_base.trim_end_matches('/'),
            config.api_version,
            config.phone_number_id
        );
        Self {
            config,
            http,
            caps,
            url,
        }
    }
}

#[async_trait]
impl ChannelAdapter for WhatsAppAdapter {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError> {
        let body = body(&msg.content, &self.caps, &self.config.list_button)?;
        let request = SendRequest {
            messaging_product: "whatsapp",
            recipient_type: "individual",
            to: &msg.recipient,
            body,
        };
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(self.config.access_token.expose())
            .json(&request)
            .send()
            .await
            .map_err(|e| AdapterError::transient("WhatsApp API unreachable").with_source(e))?;
        let status = response.status();
        let retry_after = tandem_sdk::http::retry_after(response.headers());
        let bytes = response.bytes().await.map_err(|e| {
            AdapterError::transient("reading the WhatsApp answer failed").with_source(e)
        })?;
        if status.is_success() {
            let sent: SendResponse = serde_json::from_slice(&bytes).unwrap_or_default();
            return Ok(Delivery {
                platform_message_id: sent
                    .messages
                    .into_iter()
                    .map(|m| m.id)
                    .find(|id| !id.is_empty()),
                state: DeliveryState::Sent,
            });
        }
        let error = tandem_sdk::meta::GraphError::from_body(&bytes);
        Err(classify(
            status.as_u16(),
            error.code,
            error.error_subcode,
            retry_after,
        ))
    }

    /// Graph: `GET /{version}/{media-id}` names a short-lived download URL, which wants
    /// the same bearer token (docs/platform-contracts.md, media).
    async fn fetch_media(
        &self,
        reference: &str,
        max_bytes: usize,
    ) -> Result<FetchedMedia, MediaError> {
        if reference.is_empty() || !reference.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(MediaError::NotFound);
        }
        let url = format!(
            "{}/{}/{reference}",
            self.config.api_base.trim_end_matches('/'),
            self.config.api_version,
        );
        let response = self
            .http
            .get(&url)
            .bearer_auth(self.config.access_token.expose())
            .send()
            .await
            .map_err(|e| AdapterError::transient("WhatsApp API unreachable").with_source(e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            AdapterError::transient("reading the WhatsApp answer failed").with_source(e)
        })?;
        if !status.is_success() {
            let error = tandem_sdk::meta::GraphError::from_body(&bytes);
            // 100/33: no such object (the media id expired or never existed).
            if status.as_u16() == 404 || error.code == Some(100) {
                return Err(MediaError::NotFound);
            }
            return Err(classify(status.as_u16(), error.code, error.error_subcode, None).into());
        }
        let info: MediaInfo = serde_json::from_slice(&bytes)
            .map_err(|e| AdapterError::rejected("unreadable WhatsApp media info").with_source(e))?;
        if info
            .file_size
            .as_deref()
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|n| n > max_bytes as u64)
        {
            return Err(MediaError::TooLarge { limit: max_bytes });
        }
        let mut media = tandem_sdk::media::download(
            self.http
                .get(&info.url)
                .bearer_auth(self.config.access_token.expose()),
            max_bytes,
        )
        .await?;
        if info.mime_type.is_some() {
            media.mime_type = info.mime_type;
        }
        Ok(media)
    }

    async fn healthcheck(&self) -> Result<(), AdapterError> {
        if self.config.access_token.is_empty() {
            return Err(AdapterError::auth("no access token configured"));
        }
        Ok(())
    }
}

/// The request body for `content`, or `Unsupported` when it exceeds the capabilities.
pub(crate) fn body<'a>(
    content: &'a OutboundContent,
    caps: &Capabilities,
    list_button: &'a str,
) -> Result<SendBody<'a>, AdapterError> {
    if let Some(t) = &content.template {
        return Ok(template(t));
    }
    if let Some(media) = &content.media {
        let caption = Some(content.text.as_str()).filter(|t| !t.trim().is_empty());
        if caption.is_some_and(|c| c.chars().count() > MAX_INTERACTIVE_BODY) {
            return Err(AdapterError::unsupported(
                "a media caption is at most 1024 characters",
            ));
        }
        return Ok(if media.kind == MediaKind::Image {
            SendBody::Image {
                image: OutMedia {
                    link: &media.url,
                    caption,
                    filename: None,
                },
            }
        } else {
            SendBody::Document {
                document: OutMedia {
                    link: &media.url,
                    caption,
                    filename: media.filename.as_deref(),
                },
            }
        });
    }
    let text = content.text.as_str();
    if content.buttons.is_empty() {
        if text.trim().is_empty() {
            return Err(AdapterError::unsupported("empty message"));
        }
        if text.chars().count() > caps.max_text_len {
            return Err(AdapterError::unsupported(
                "text longer than 4096 characters",
            ));
        }
        return Ok(SendBody::Text {
            text: OutText {
                preview_url: false,
                body: text,
            },
        });
    }
    if text.trim().is_empty() || text.chars().count() > MAX_INTERACTIVE_BODY {
        return Err(AdapterError::unsupported(
            "interactive messages need a body of 1 to 1024 characters",
        ));
    }
    let fits = |max_title: usize, max_id: usize| {
        content.buttons.iter().all(|b| {
            !b.title.is_empty()
                && b.title.chars().count() <= max_title
                && !b.payload.is_empty()
                && b.payload.len() <= max_id
        })
    };
    match content.style {
        ChoiceStyle::Buttons
            if content.buttons.len() <= caps.max_buttons
                && fits(caps.max_button_title_len, MAX_BUTTON_ID) =>
        {
            Ok(SendBody::Interactive {
                interactive: OutInteractive {
                    kind: "button",
                    body: BodyText { text },
                    action: Action::Buttons {
                        buttons: content
                            .buttons
                            .iter()
                            .map(|b| OutButton {
                                kind: "reply",
                                reply: Row {
                                    id: &b.payload,
                                    title: &b.title,
                                },
                            })
                            .collect(),
                    },
                },
            })
        }
        ChoiceStyle::List
            if content.buttons.len() <= caps.max_list_rows
                && fits(caps.max_list_row_title_len, MAX_ROW_ID) =>
        {
            Ok(SendBody::Interactive {
                interactive: OutInteractive {
                    kind: "list",
                    body: BodyText { text },
                    action: Action::List {
                        button: list_button,
                        sections: vec![Section {
                            title: "Options",
                            rows: content
                                .buttons
                                .iter()
                                .map(|b| Row {
                                    id: &b.payload,
                                    title: &b.title,
                                })
                                .collect(),
                        }],
                    },
                },
            })
        }
        _ => Err(AdapterError::unsupported(
            "choices beyond WhatsApp's limits (3 reply buttons of 20 characters, or 10 list rows of 24)",
        )),
    }
}

fn template(t: &TemplateMessage) -> SendBody<'_> {
    let components = if t.params.is_empty() {
        Vec::new()
    } else {
        vec![Component {
            kind: "body",
            parameters: t
                .params
                .iter()
                .map(|p| Parameter {
                    kind: "text",
                    text: p,
                })
                .collect(),
        }]
    };
    SendBody::Template {
        template: OutTemplate {
            name: &t.name,
            language: Language { code: &t.language },
            components,
        },
    }
}

/// Graph error code (and HTTP status) → error kind. Keyed on the code, as Meta advises;
/// the status only decides when there is no code.
pub(crate) fn classify(
    status: u16,
    code: Option<u64>,
    subcode: Option<u64>,
    retry_after: Option<Duration>,
) -> AdapterError {
    let code_text = code.map_or_else(|| format!("HTTP {status}"), |c| format!("error {c}"));
    let kind = match code {
        Some(0 | 190) => ErrorKind::Auth,
        Some(10 | 200..=299) => ErrorKind::Auth,
        Some(4 | 80_007 | 130_429 | 131_048) => ErrorKind::RateLimited { retry_after },
        // The (business, consumer) pair limit: about one message per 6 s to one user.
        Some(131_056) => ErrorKind::RateLimited {
            retry_after: retry_after.or(Some(Duration::from_secs(6))),
        },
        Some(131_047 | 470) => ErrorKind::WindowClosed,
        Some(131_026) => ErrorKind::Unreachable,
        Some(100) if subcode == Some(2_494_010) => ErrorKind::Unreachable,
        Some(131_051) => ErrorKind::Unsupported,
        Some(131_000) | Some(1 | 2) => ErrorKind::Transient,
        Some(_) if status == 429 => ErrorKind::RateLimited { retry_after },
        Some(_) if status >= 500 => ErrorKind::Transient,
        Some(_) => ErrorKind::Rejected,
        None => {
            return AdapterError::from_status(
                status,
                retry_after,
                format!("WhatsApp answered {code_text}"),
            );
        }
    };
    AdapterError::new(kind, format!("WhatsApp answered {code_text}"))
}
