//! Sending through the Bot API (`sendMessage`, plain text, no parse mode so customer
//! and bot text is never misread as markup), with choices as an inline keyboard (one
//! button per row, `callback_data` = payload, at most 64 bytes). Failures are
//! classified by `api::classify`: 429 `retry_after` → rate limited with the hint,
//! "bot was blocked by the user" → unreachable, a refused token → auth.

use crate::api::{
    Bot, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, ReplyMarkup, Request, Requester,
    SendMessageSetters, classify,
};
use async_trait::async_trait;
use tandem_sdk::media::{FetchedMedia, MediaError};
use tandem_sdk::model::{
    Capabilities, ChoiceStyle, Delivery, DeliveryState, MediaKind, OutboundContent, OutboundMedia,
    OutboundMessage,
};
use tandem_sdk::{AdapterError, ChannelAdapter};
use teloxide_core::payloads::{SendDocumentSetters, SendPhotoSetters};
use teloxide_core::types::{FileId, InputFile};

/// Longest `callback_data`, in bytes.
pub(crate) const MAX_CALLBACK_DATA: usize = 64;

pub(crate) struct TelegramAdapter {
    bot: Bot,
    caps: Capabilities,
}

impl TelegramAdapter {
    pub(crate) fn new(bot: Bot, caps: Capabilities) -> Self {
        Self { bot, caps }
    }
}

#[async_trait]
impl ChannelAdapter for TelegramAdapter {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError> {
        let chat: i64 = msg
            .recipient
            .parse()
            .map_err(|_| AdapterError::rejected("the recipient is not a Telegram chat id"))?;
        if let Some(media) = &msg.content.media {
            return self.send_media(chat, media, &msg.content).await;
        }
        let keyboard = keyboard(&msg.content, &self.caps)?;
        let mut request = self
            .bot
            .send_message(ChatId(chat), msg.content.text.clone());
        if let Some(k) = keyboard {
            request = request.reply_markup(ReplyMarkup::InlineKeyboard(k));
        }
        let sent = request.send().await.map_err(classify)?;
        Ok(Delivery {
            platform_message_id: Some(format!("{chat}:{}", sent.id.0)),
            state: DeliveryState::Sent,
        })
    }

    /// `getFile` names the file's path, downloaded from `/file/bot<token>/<path>`
    /// (docs/platform-contracts.md §3: links valid for an hour, 20 MB at most).
    async fn fetch_media(
        &self,
        reference: &str,
        max_bytes: usize,
    ) -> Result<FetchedMedia, MediaError> {
        if reference.is_empty() {
            return Err(MediaError::NotFound);
        }
        let file = self
            .bot
            .get_file(FileId(reference.to_owned()))
            .send()
            .await
            .map_err(|e| match e {
                teloxide_core::RequestError::Api(_) => MediaError::NotFound,
                other => MediaError::Platform(classify(other)),
            })?;
        if file.meta.size as usize > max_bytes {
            return Err(MediaError::TooLarge { limit: max_bytes });
        }
        let mut url = self.bot.api_url();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!(
            "{base}/file/bot{}/{}",
            self.bot.token(),
            file.path
        ));
        let mut media = tandem_sdk::media::download(self.bot.client().get(url), max_bytes).await?;
        if media.filename.is_none() {
            media.filename = file.path.rsplit('/').next().map(str::to_owned);
        }
        Ok(media)
    }

    async fn typing(
        &self,
        recipient: &str,
        _from: tandem_sdk::model::Party,
    ) -> Result<(), AdapterError> {
        let chat: i64 = recipient
            .parse()
            .map_err(|_| AdapterError::rejected("the recipient is not a Telegram chat id"))?;
        self.bot
            .send_chat_action(ChatId(chat), teloxide_core::types::ChatAction::Typing)
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

impl TelegramAdapter {
    /// `sendPhoto` for images, `sendDocument` for other files, by URL (Telegram fetches
    /// it: 5 MB for photos, 20 MB for other files), the text as caption.
    async fn send_media(
        &self,
        chat: i64,
        media: &OutboundMedia,
        content: &OutboundContent,
    ) -> Result<Delivery, AdapterError> {
        let url = url::Url::parse(&media.url)
            .map_err(|_| AdapterError::rejected("the media URL is not a URL"))?;
        if content.text.chars().count() > MAX_CAPTION {
            return Err(AdapterError::unsupported(
                "caption longer than 1024 characters",
            ));
        }
        let caption = (!content.text.trim().is_empty()).then(|| content.text.clone());
        let sent = if media.kind == MediaKind::Image {
            let mut request = self.bot.send_photo(ChatId(chat), InputFile::url(url));
            if let Some(c) = caption {
                request = request.caption(c);
            }
            request.send().await
        } else {
            let mut request = self.bot.send_document(ChatId(chat), InputFile::url(url));
            if let Some(c) = caption {
                request = request.caption(c);
            }
            request.send().await
        }
        .map_err(classify)?;
        Ok(Delivery {
            platform_message_id: Some(format!("{chat}:{}", sent.id.0)),
            state: DeliveryState::Sent,
        })
    }
}

/// Longest caption of a photo or document.
const MAX_CAPTION: usize = 1024;

/// The inline keyboard for `content`'s choices, or `Unsupported` beyond the limits.
pub(crate) fn keyboard(
    content: &OutboundContent,
    caps: &Capabilities,
) -> Result<Option<InlineKeyboardMarkup>, AdapterError> {
    if content.template.is_some() {
        return Err(AdapterError::unsupported(
            "Telegram has no message templates",
        ));
    }
    let text = content.text.as_str();
    if text.trim().is_empty() {
        return Err(AdapterError::unsupported("empty message"));
    }
    if text.chars().count() > caps.max_text_len {
        return Err(AdapterError::unsupported(
            "text longer than 4096 characters",
        ));
    }
    if content.buttons.is_empty() {
        return Ok(None);
    }
    let fits = content.style == ChoiceStyle::Buttons
        && content.buttons.len() <= caps.max_buttons
        && content.buttons.iter().all(|b| {
            !b.title.is_empty()
                && b.title.chars().count() <= caps.max_button_title_len
                && !b.payload.is_empty()
                && b.payload.len() <= MAX_CALLBACK_DATA
        });
    if !fits {
        return Err(AdapterError::unsupported(
            "choices beyond Telegram's inline keyboard (callback data of 1 to 64 bytes)",
        ));
    }
    Ok(Some(InlineKeyboardMarkup::new(content.buttons.iter().map(
        |b| {
            vec![InlineKeyboardButton::callback(
                b.title.clone(),
                b.payload.clone(),
            )]
        },
    ))))
}
