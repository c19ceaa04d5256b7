//! [`ChannelBots`]: one [`Bot`] per channel instance, with a default for the others.

use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use tandem_core::ai::{Bot, BotAnswer, BotQuestion};

/// Asks the bot configured for the message's channel ([`BotQuestion::channel`]), else the
/// default one. The greeting is the default bot's.
#[derive(Clone)]
pub struct ChannelBots {
    default: Arc<dyn Bot>,
    channels: BTreeMap<String, Arc<dyn Bot>>,
}

impl std::fmt::Debug for ChannelBots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelBots")
            .field("channels", &self.channels.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ChannelBots {
    /// Every channel asks `default`.
    pub fn new(default: Arc<dyn Bot>) -> Self {
        Self {
            default,
            channels: BTreeMap::new(),
        }
    }

    /// Channel instance `channel` asks `bot` instead.
    #[must_use]
    pub fn with(mut self, channel: impl Into<String>, bot: Arc<dyn Bot>) -> Self {
        self.channels.insert(channel.into(), bot);
        self
    }
}

#[async_trait]
impl Bot for ChannelBots {
    async fn answer(&self, question: BotQuestion<'_>) -> BotAnswer {
        self.channels
            .get(question.channel)
            .unwrap_or(&self.default)
            .answer(question)
            .await
    }

    fn greeting(&self) -> Option<String> {
        self.default.greeting()
    }
}
