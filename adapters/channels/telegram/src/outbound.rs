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
use tandem_sdk::model::{
    Capabilities, ChoiceStyle, Delivery, DeliveryState, OutboundContent, OutboundMessage,
};
use tandem_sdk::{AdapterError, ChannelAdapter};

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
