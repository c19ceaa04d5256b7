//! The adapter registry: which channel kinds this binary knows, spelled once each (the
//! factory's `KIND`). Type erasure happens here, once, so adapters never see `dyn Any`.
//! Out-of-tree adapters register the same way in their own binary.

use crate::config::deserialize_table;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use tandem_sdk::{
    AdapterError, BuiltChannel, BuiltDesk, ChannelContext, ChannelFactory, ConfigErrors,
    DeskContext, DeskFactory,
};

type ValidateFn = fn(&toml::Value) -> Result<(), ConfigErrors>;
type BuildFn =
    fn(toml::Value, ChannelContext) -> BoxFuture<'static, Result<BuiltChannel, AdapterError>>;

#[derive(Clone, Copy)]
struct ChannelEntry {
    validate: ValidateFn,
    build: BuildFn,
}

type DeskBuildFn =
    fn(toml::Value, DeskContext) -> BoxFuture<'static, Result<BuiltDesk, AdapterError>>;

#[derive(Clone, Copy)]
struct DeskEntry {
    validate: ValidateFn,
    build: DeskBuildFn,
}

/// The known adapter kinds.
#[derive(Default, Clone)]
pub struct Registry {
    channels: BTreeMap<&'static str, ChannelEntry>,
    desks: BTreeMap<&'static str, DeskEntry>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("channels", &self.channel_kinds())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The adapters compiled into this binary.
    pub fn builtin() -> Self {
        let mut r = Self::new();
        #[cfg(feature = "webchat")]
        r.channel::<tandem_channel_webchat::WebChat>();
        #[cfg(feature = "webhook-channel")]
        r.channel::<tandem_channel_webhook::WebhookChannel>();
        #[cfg(feature = "whatsapp")]
        r.channel::<tandem_channel_whatsapp::WhatsApp>();
        #[cfg(feature = "messenger")]
        r.channel::<tandem_channel_messenger::Messenger>();
        #[cfg(feature = "telegram")]
        r.channel::<tandem_channel_telegram::Telegram>();
        #[cfg(feature = "teams")]
        r.channel::<tandem_channel_teams::Teams>();
        #[cfg(feature = "webhook-desk")]
        r.desk::<tandem_desk_webhook::WebhookDesk>();
        #[cfg(feature = "slack-desk")]
        r.desk::<tandem_desk_slack::SlackDesk>();
        #[cfg(feature = "chatwoot-desk")]
        r.desk::<tandem_desk_chatwoot::ChatwootDesk>();
        #[cfg(feature = "teams-desk")]
        r.desk::<tandem_desk_teams::TeamsDesk>();
        #[cfg(feature = "console-desk")]
        r.desk::<tandem_desk_console::ConsoleDesk>();
        r
    }

    /// Registers a channel kind.
    pub fn channel<F: ChannelFactory>(&mut self) {
        fn validate<F: ChannelFactory>(table: &toml::Value) -> Result<(), ConfigErrors> {
            let config: F::Config = deserialize_table(table)?;
            F::validate(&config)
        }
        fn build<F: ChannelFactory>(
            table: toml::Value,
            cx: ChannelContext,
        ) -> BoxFuture<'static, Result<BuiltChannel, AdapterError>> {
            Box::pin(async move {
                let config: F::Config = deserialize_table(&table)
                    .map_err(|e| AdapterError::rejected(format!("invalid config: {e}")))?;
                F::build(config, cx).await
            })
        }
        self.channels.insert(
            F::KIND,
            ChannelEntry {
                validate: validate::<F>,
                build: build::<F>,
            },
        );
    }

    /// Registers a desk kind.
    pub fn desk<F: DeskFactory>(&mut self) {
        fn validate<F: DeskFactory>(table: &toml::Value) -> Result<(), ConfigErrors> {
            let config: F::Config = deserialize_table(table)?;
            F::validate(&config)
        }
        fn build<F: DeskFactory>(
            table: toml::Value,
            cx: DeskContext,
        ) -> BoxFuture<'static, Result<BuiltDesk, AdapterError>> {
            Box::pin(async move {
                let config: F::Config = deserialize_table(&table)
                    .map_err(|e| AdapterError::rejected(format!("invalid config: {e}")))?;
                F::build(config, cx).await
            })
        }
        self.desks.insert(
            F::KIND,
            DeskEntry {
                validate: validate::<F>,
                build: build::<F>,
            },
        );
    }

    /// The registered desk kinds, sorted.
    pub fn desk_kinds(&self) -> Vec<&'static str> {
        self.desks.keys().copied().collect()
    }

    /// Checks a desk table for `kind`; `None` when the kind is unknown.
    pub fn validate_desk(
        &self,
        kind: &str,
        table: &toml::Value,
    ) -> Option<Result<(), ConfigErrors>> {
        self.desks.get(kind).map(|e| (e.validate)(table))
    }

    /// Builds a desk instance of `kind`; `None` when the kind is unknown.
    pub fn build_desk(
        &self,
        kind: &str,
        table: toml::Value,
        cx: DeskContext,
    ) -> Option<BoxFuture<'static, Result<BuiltDesk, AdapterError>>> {
        self.desks.get(kind).map(|e| (e.build)(table, cx))
    }

    /// The registered kinds, sorted.
    pub fn channel_kinds(&self) -> Vec<&'static str> {
        self.channels.keys().copied().collect()
    }

    /// Checks a table for `kind`; `None` when the kind is unknown.
    pub fn validate_channel(
        &self,
        kind: &str,
        table: &toml::Value,
    ) -> Option<Result<(), ConfigErrors>> {
        self.channels.get(kind).map(|e| (e.validate)(table))
    }

    /// Builds an instance of `kind`; `None` when the kind is unknown.
    pub fn build_channel(
        &self,
        kind: &str,
        table: toml::Value,
        cx: ChannelContext,
    ) -> Option<BoxFuture<'static, Result<BuiltChannel, AdapterError>>> {
        self.channels.get(kind).map(|e| (e.build)(table, cx))
    }
}
