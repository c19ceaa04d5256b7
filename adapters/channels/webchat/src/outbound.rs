//! Sending: push the message to the visitor's live sockets, here and, through the
//! store ([`InboundSink::share`]), in the other Tandem processes sharing it (the visitor's
//! socket may be held by another replica than the one whose outbox sends the reply).

use crate::hub::Hub;
use crate::protocol::{ButtonFrame, ServerFrame};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tandem_sdk::model::{Capabilities, Delivery, DeliveryState, OutboundMessage, Party};
use tandem_sdk::{AdapterError, ChannelAdapter, InboundSink};
use time::format_description::well_known::Rfc3339;
use tracing::{debug, warn};

pub(crate) struct WebChatAdapter {
    hub: Arc<Hub>,
    caps: Capabilities,
    /// Where updates are shared with other processes; `None` on an embedded store.
    sink: Option<InboundSink>,
}

impl WebChatAdapter {
    pub(crate) fn new(hub: Arc<Hub>, caps: Capabilities, sink: Option<InboundSink>) -> Self {
        Self { hub, caps, sink }
    }

    /// Pushes `frame` to the visitor's sockets here and shares it with the other
    /// processes; returns how many sockets here took it.
    async fn push(&self, recipient: &str, frame: ServerFrame) -> usize {
        let reached = self.hub.send(recipient, &frame);
        let Some(sink) = &self.sink else {
            return reached;
        };
        if let Some(shared) = SharedFrame::of(recipient, frame) {
            let payload = serde_json::to_string(&shared).unwrap_or_default();
            // The message is in the transcript either way: a visitor connected elsewhere
            // who misses it live gets it on reconnect.
            if let Err(error) = sink.share(&payload).await {
                warn!(%error, "A web chat update could not be shared with other replicas.");
            }
        }
        reached
    }
}

/// A frame for a visitor, as shared with the other processes: the payload of the
/// store's notification (it carries the message text, kept in the store only until the
/// notification expires).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SharedFrame {
    /// The visitor (subject).
    to: String,
    /// `message` or `typing`.
    kind: String,
    #[serde(default)]
    id: String,
    from: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    at: String,
    #[serde(default)]
    buttons: Vec<(String, String)>,
    #[serde(default)]
    agent_name: Option<String>,
}

impl SharedFrame {
    fn of(to: &str, frame: ServerFrame) -> Option<Self> {
        let to = to.to_owned();
        match frame {
            ServerFrame::Message {
                id,
                from,
                text,
                at,
                buttons,
                agent_name,
            } => Some(Self {
                to,
                kind: "message".into(),
                id,
                from: from.into(),
                text,
                at,
                buttons: buttons.into_iter().map(|b| (b.title, b.payload)).collect(),
                agent_name,
            }),
            ServerFrame::Typing { from } => Some(Self {
                to,
                kind: "typing".into(),
                id: String::new(),
                from: from.into(),
                text: String::new(),
                at: String::new(),
                buttons: Vec::new(),
                agent_name: None,
            }),
            _ => None,
        }
    }

    /// The visitor and the frame; `None` for anything this version does not know.
    fn into_frame(self) -> Option<(String, ServerFrame)> {
        let from = match self.from.as_str() {
            "customer" => Party::Customer,
            "bot" => Party::Bot,
            "agent" => Party::Agent,
            "system" => Party::System,
            _ => return None,
        };
        let frame = match self.kind.as_str() {
            "message" => ServerFrame::Message {
                id: self.id,
                from: party_name(from),
                text: self.text,
                at: self.at,
                buttons: self
                    .buttons
                    .into_iter()
                    .map(|(title, payload)| ButtonFrame { title, payload })
                    .collect(),
                agent_name: self.agent_name,
            },
            "typing" => ServerFrame::Typing {
                from: party_name(from),
            },
            _ => return None,
        };
        Some((self.to, frame))
    }
}

/// Pushes the frames other processes shared to the sockets this process holds, until
/// `updates` ends or `shutdown`.
pub(crate) async fn follow_shared(
    hub: Arc<Hub>,
    mut updates: futures::stream::BoxStream<'static, String>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use futures::StreamExt;
    loop {
        let next = tokio::select! {
            next = updates.next() => next,
            () = shutdown.cancelled() => return,
        };
        let Some(payload) = next else { return };
        match serde_json::from_str::<SharedFrame>(&payload)
            .ok()
            .and_then(SharedFrame::into_frame)
        {
            Some((to, frame)) => {
                hub.send(&to, &frame);
            }
            None => debug!("A shared web chat update was not understood; skipped."),
        }
    }
}

pub(crate) fn party_name(p: Party) -> &'static str {
    p.as_str()
}

#[async_trait]
impl ChannelAdapter for WebChatAdapter {
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    async fn send(&self, msg: OutboundMessage) -> Result<Delivery, AdapterError> {
        if msg.content.buttons.len() > self.caps.max_buttons {
            return Err(AdapterError::unsupported(
                "more buttons than web chat renders",
            ));
        }
        let frame = ServerFrame::Message {
            agent_name: msg.content.sender_name.clone(),
            id: msg.message_id.to_string(),
            from: party_name(msg.from),
            text: msg.content.text,
            at: msg.created_at.format(&Rfc3339).unwrap_or_default(),
            buttons: msg
                .content
                .buttons
                .into_iter()
                .map(|b| ButtonFrame {
                    title: b.title,
                    payload: b.payload,
                })
                .collect(),
        };
        let reached = self.push(&msg.recipient, frame).await;
        // With no live socket the message is still in the transcript, which is replayed
        // when the visitor comes back: it is stored, not lost.
        let state = if reached > 0 {
            DeliveryState::Delivered
        } else {
            DeliveryState::Stored
        };
        Ok(Delivery {
            platform_message_id: None,
            state,
        })
    }

    async fn typing(&self, recipient: &str, from: Party) -> Result<(), AdapterError> {
        self.push(
            recipient,
            ServerFrame::Typing {
                from: party_name(from),
            },
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_frame_round_trips_and_unknown_ones_are_skipped() {
        let frame = ServerFrame::Message {
            id: "m1".into(),
            from: "agent",
            text: "hello".into(),
            at: "2026-01-01T00:00:00Z".into(),
            buttons: vec![ButtonFrame {
                title: "Yes".into(),
                payload: "yes".into(),
            }],
            agent_name: Some("Sam".into()),
        };
        let json = frame.to_json();
        let shared = SharedFrame::of("visitor-1", frame).expect("messages are shared");
        let text = serde_json::to_string(&shared).unwrap();
        let (to, back) = serde_json::from_str::<SharedFrame>(&text)
            .unwrap()
            .into_frame()
            .unwrap();
        assert_eq!(to, "visitor-1");
        assert_eq!(back.to_json(), json);
        let typing = SharedFrame::of("v", ServerFrame::Typing { from: "bot" }).unwrap();
        let (_, back) = typing.into_frame().unwrap();
        assert_eq!(back.to_json(), r#"{"type":"typing","from":"bot"}"#);
        // What another version might send: skipped, never a panic.
        for odd in [
            r#"{"to":"v","kind":"poll","from":"bot"}"#,
            r#"{"to":"v","kind":"message","from":"robot"}"#,
        ] {
            let parsed: SharedFrame = serde_json::from_str(odd).unwrap();
            assert!(parsed.into_frame().is_none(), "{odd}");
        }
        assert!(SharedFrame::of("v", ServerFrame::Ack { id: "x".into() }).is_none());
    }
}
