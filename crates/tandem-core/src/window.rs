//! Messaging windows: when a channel lets Tandem send free-form messages.
//!
//! WhatsApp allows free-form messages for 24 hours after the customer's last message;
//! outside that window only an approved template may be sent. Messenger has the same
//! 24 hours, and lets messages written by a human agent through for 7 days when tagged
//! `HUMAN_AGENT`. Channels describe their rule as data ([`WindowPolicy`]); this module
//! decides, at send time, whether a message goes out as is, tagged, as the configured
//! template, or not at all (`undeliverable: window_closed`, recorded visibly, never
//! "sent" into the void).
//!
//! Pure functions: the outbox and the delivery-report path call them with the
//! conversation's `last_customer_message_at` and the current time. The handoff briefing
//! uses [`summary`].

use crate::records::ConversationState;
use tandem_model::{
    Capabilities, ChannelId, OutboundContent, Party, TemplateMessage, Timestamp, WindowPolicy,
};

/// The generic tag the core sets on an agent's message sent in the extended window; the
/// Messenger adapter sends it as `HUMAN_AGENT`.
pub const HUMAN_AGENT_TAG: &str = "human_agent";

/// Longest `{text}` substituted into a template parameter, in characters.
const TEMPLATE_TEXT_MAX: usize = 1000;

/// The state of a channel's window for one conversation at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// The channel has no window.
    Unrestricted,
    /// Free-form messages are allowed until `expires_at`.
    Open {
        /// When the window closes.
        expires_at: Timestamp,
    },
    /// Only tagged messages from a human agent may be sent, until `expires_at`.
    AgentTagOnly {
        /// When the extended window closes.
        expires_at: Timestamp,
    },
    /// Closed, or never opened (the customer never wrote on this channel).
    Closed,
}

impl WindowState {
    /// Whether free-form messages may be sent now.
    pub fn is_open(&self) -> bool {
        matches!(self, WindowState::Unrestricted | WindowState::Open { .. })
    }
}

/// The window as shown in a handoff briefing: `{"open": .., "expires_at": ..}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSummary {
    /// Whether free-form messages may be sent now.
    pub open: bool,
    /// When the window closes, if it can close.
    pub expires_at: Option<Timestamp>,
}

/// What to do with one outbound message.
// Short-lived, one per send: boxing the content would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    /// Send this content (possibly tagged or replaced by a template).
    Send(OutboundContent),
    /// Do not send; record the message as undeliverable for this reason.
    Undeliverable(String),
}

/// When the customer last wrote on `channel`, from the conversation state.
pub fn last_customer_message(state: &ConversationState, channel: &ChannelId) -> Option<Timestamp> {
    let ms = *state.last_customer_message_at.get(channel.as_str())?;
    Timestamp::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// The window of `policy` at `now`, given the customer's last message on that channel.
pub fn state(
    policy: &WindowPolicy,
    last_customer: Option<Timestamp>,
    now: Timestamp,
) -> WindowState {
    let WindowPolicy::CustomerService {
        hours,
        agent_tag_hours,
    } = *policy
    else {
        return WindowState::Unrestricted;
    };
    let Some(last) = last_customer else {
        return WindowState::Closed;
    };
    let expires_at = last + time::Duration::hours(i64::from(hours));
    if now < expires_at {
        return WindowState::Open { expires_at };
    }
    if let Some(tag_hours) = agent_tag_hours {
        let tag_expires = last + time::Duration::hours(i64::from(tag_hours));
        if now < tag_expires {
            return WindowState::AgentTagOnly {
                expires_at: tag_expires,
            };
        }
    }
    WindowState::Closed
}

/// The window for a briefing.
pub fn summary(
    policy: &WindowPolicy,
    last_customer: Option<Timestamp>,
    now: Timestamp,
) -> WindowSummary {
    match state(policy, last_customer, now) {
        WindowState::Unrestricted => WindowSummary {
            open: true,
            expires_at: None,
        },
        WindowState::Open { expires_at } => WindowSummary {
            open: true,
            expires_at: Some(expires_at),
        },
        WindowState::AgentTagOnly { .. } | WindowState::Closed => WindowSummary {
            open: false,
            expires_at: None,
        },
    }
}

/// Fits one outbound message to the window: as is while open; tagged for an agent in
/// the extended window; else the channel's template, or undeliverable.
pub fn prepare(
    caps: &Capabilities,
    window: WindowState,
    from: Party,
    content: &OutboundContent,
    customer_name: Option<&str>,
) -> Prepared {
    match window {
        WindowState::Unrestricted | WindowState::Open { .. } => Prepared::Send(content.clone()),
        WindowState::AgentTagOnly { .. } if from == Party::Agent => {
            let mut tagged = content.clone();
            tagged.tag = Some(HUMAN_AGENT_TAG.to_owned());
            Prepared::Send(tagged)
        }
        WindowState::AgentTagOnly { .. } | WindowState::Closed => {
            if content.template.is_some() {
                return Prepared::Send(content.clone());
            }
            match template_for(caps, content, customer_name) {
                Some(t) => Prepared::Send(t),
                None => Prepared::Undeliverable(
                    "window_closed: the customer last wrote outside the channel's window and no \
                     template is configured"
                        .to_owned(),
                ),
            }
        }
    }
}

/// What to try after the platform itself said the window is closed (a synchronous
/// 131047 or 10/2018278): the agent tag while the extended window lasts, else the
/// template; `None` when nothing else can be tried.
pub fn fallback(
    caps: &Capabilities,
    window: WindowState,
    from: Party,
    content: &OutboundContent,
    customer_name: Option<&str>,
) -> Option<OutboundContent> {
    if content.template.is_some() {
        return None;
    }
    let agent_window_open = matches!(window, WindowState::AgentTagOnly { .. })
        || matches!(
            (caps.window, window),
            (
                WindowPolicy::CustomerService {
                    agent_tag_hours: Some(_),
                    ..
                },
                WindowState::Open { .. },
            )
        );
    if from == Party::Agent && content.tag.is_none() && agent_window_open {
        let mut tagged = content.clone();
        tagged.tag = Some(HUMAN_AGENT_TAG.to_owned());
        return Some(tagged);
    }
    template_for(caps, content, customer_name)
}

/// The channel's window template filled for `content`, or `None` when none is configured.
pub fn template_for(
    caps: &Capabilities,
    content: &OutboundContent,
    customer_name: Option<&str>,
) -> Option<OutboundContent> {
    let template = caps.window_template.as_ref()?;
    let text = shorten(&content.text, TEMPLATE_TEXT_MAX);
    let name = customer_name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("there");
    let filled = TemplateMessage {
        name: template.name.clone(),
        language: template.language.clone(),
        params: template
            .params
            .iter()
            .map(|p| p.replace("{text}", &text).replace("{name}", name))
            .collect(),
    };
    Some(OutboundContent {
        text: content.text.clone(),
        template: Some(filled),
        ..OutboundContent::default()
    })
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const WA: WindowPolicy = WindowPolicy::CustomerService {
        hours: 24,
        agent_tag_hours: None,
    };
    const FB: WindowPolicy = WindowPolicy::CustomerService {
        hours: 24,
        agent_tag_hours: Some(168),
    };

    fn caps(window: WindowPolicy, template: bool) -> Capabilities {
        Capabilities {
            window,
            window_template: template.then(|| TemplateMessage {
                name: "follow_up".into(),
                language: "en_US".into(),
                params: vec!["{name}".into(), "{text}".into()],
            }),
            ..Capabilities::text_only(4096)
        }
    }

    #[test]
    fn whatsapp_window_is_24_hours_from_the_last_message() {
        let last = datetime!(2026-01-01 10:00 UTC);
        assert!(matches!(
            state(&WA, Some(last), datetime!(2026-01-02 09:59 UTC)),
            WindowState::Open { .. }
        ));
        assert_eq!(
            state(&WA, Some(last), datetime!(2026-01-02 10:00 UTC)),
            WindowState::Closed
        );
        assert_eq!(state(&WA, None, last), WindowState::Closed);
        assert_eq!(
            state(&WindowPolicy::None, None, last),
            WindowState::Unrestricted
        );
    }

    #[test]
    fn messenger_agents_get_seven_days_tagged() {
        let last = datetime!(2026-01-01 10:00 UTC);
        let day3 = datetime!(2026-01-04 10:00 UTC);
        let w = state(&FB, Some(last), day3);
        assert!(matches!(w, WindowState::AgentTagOnly { .. }));
        let c = caps(FB, false);
        let content = OutboundContent::text("Your replacement ships tomorrow.");
        let Prepared::Send(sent) = prepare(&c, w, Party::Agent, &content, None) else {
            panic!("an agent message goes out tagged");
        };
        assert_eq!(sent.tag.as_deref(), Some(HUMAN_AGENT_TAG));
        assert!(matches!(
            prepare(&c, w, Party::Bot, &content, None),
            Prepared::Undeliverable(_)
        ));
        let day8 = datetime!(2026-01-08 10:00 UTC);
        assert_eq!(state(&FB, Some(last), day8), WindowState::Closed);
    }

    #[test]
    fn closed_window_uses_the_template_or_is_undeliverable() {
        let content = OutboundContent::text("Your order shipped.");
        let Prepared::Send(t) = prepare(
            &caps(WA, true),
            WindowState::Closed,
            Party::Bot,
            &content,
            Some("Lena"),
        ) else {
            panic!("template configured");
        };
        let template = t.template.expect("template set");
        assert_eq!(
            template.params,
            vec!["Lena".to_owned(), "Your order shipped.".to_owned()]
        );
        assert_eq!(t.text, content.text, "the text is kept for the record");
        let Prepared::Undeliverable(reason) = prepare(
            &caps(WA, false),
            WindowState::Closed,
            Party::Bot,
            &content,
            None,
        ) else {
            panic!("no template: undeliverable");
        };
        assert!(reason.starts_with("window_closed"));
    }

    #[test]
    fn fallback_after_a_platform_rejection() {
        let content = OutboundContent::text("hello");
        let open = WindowState::Open {
            expires_at: datetime!(2026-01-02 10:00 UTC),
        };
        assert!(
            fallback(&caps(WA, true), open, Party::Bot, &content, None)
                .is_some_and(|c| c.template.is_some())
        );
        assert!(fallback(&caps(WA, false), open, Party::Bot, &content, None).is_none());
        let tagged =
            fallback(&caps(FB, false), open, Party::Agent, &content, None).expect("agent tag");
        assert_eq!(tagged.tag.as_deref(), Some(HUMAN_AGENT_TAG));
        assert!(fallback(&caps(FB, false), open, Party::Agent, &tagged, None).is_none());
    }
}
