//! Handoffs as the runtime delivers them: the rules and the briefing are the engine's
//! ([`crate::engine::handoff`], re-exported here); a [`DeskTarget`] takes the desk
//! operations the outbox holds for `desk:<id>` to that [`AgentDesk`].

pub use crate::engine::handoff::*;

use crate::engine::handoff::DeskOpDoc;
use async_trait::async_trait;
use std::sync::Arc;
use tandem_model::{Capabilities, Delivery, DeliveryState, OutboundMessage};
use tandem_sdk::handoff::TranscriptLine;
use tandem_sdk::media::MediaLinks;
use tandem_sdk::{AdapterError, AgentDesk, ChannelAdapter, DeskDelivery, DeskOp};

/// Delivers desk operations from the outbox to an [`AgentDesk`].
pub(crate) struct DeskTarget {
    desk: Arc<dyn AgentDesk>,
    caps: Capabilities,
    links: Option<MediaLinks>,
}

impl DeskTarget {
    pub(crate) fn new(desk: Arc<dyn AgentDesk>, links: Option<MediaLinks>) -> Self {
        Self {
            desk,
            caps: Capabilities::text_only(usize::MAX),
            links,
        }
    }
}

#[async_trait]
impl ChannelAdapter for DeskTarget {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError> {
        let doc: DeskOpDoc = serde_json::from_str(&msg.content.text)
            .map_err(|e| AdapterError::rejected("unreadable desk operation").with_source(e))?;
        let links = self.links.as_ref();
        let op = match doc {
            DeskOpDoc::Open(mut h) => {
                for l in &mut h.transcript {
                    link_media(l, links);
                }
                DeskOp::Open(h)
            }
            DeskOpDoc::Append(mut m) => {
                link_media(&mut m.message, links);
                DeskOp::Append(m)
            }
            DeskOpDoc::Close(c) => DeskOp::Close(c),
            DeskOpDoc::Update(u) => DeskOp::Update(u),
        };
        let receipt = self
            .desk
            .deliver(DeskDelivery {
                id: msg.outbox_id.to_string(),
                op,
            })
            .await?;
        Ok(Delivery {
            platform_message_id: receipt.thread,
            state: DeliveryState::Sent,
        })
    }
}

/// Mints the link of the media `line` carries and rewrites its text around it
/// (`[image https://…] caption`); without links (no `[media]`), the text names the kind
/// only. The platform reference never leaves Tandem.
fn link_media(line: &mut TranscriptLine, links: Option<&MediaLinks>) {
    let Some(media) = line.media.as_mut() else {
        return;
    };
    let Some(reference) = media.reference.take() else {
        return;
    };
    let (channel, reference) = tandem_sdk::media::link_target(&line.channel, &reference);
    let url = links.map(|l| {
        l.link(
            channel,
            reference,
            media.mime_type.as_deref(),
            tandem_sdk::media::unix_now(),
        )
        .to_string()
    });
    let head = match &url {
        Some(url) => format!("[{} {url}]", media.kind),
        None => format!("[{}]", media.kind),
    };
    line.text = match media.caption.as_deref().filter(|c| !c.is_empty()) {
        Some(caption) => format!("{head} {caption}"),
        None => head,
    };
    media.url = url;
}
