//! Shapes a reply to what a channel can render. Choices degrade in order: buttons →
//! quick replies → list → numbered text (the customer answers with the number, which
//! the turn maps back to the payload, see [`choice_answer`]). Over-long text is split at
//! line breaks or spaces. Nothing is dropped or cut: a style is used only when every
//! title and payload fits it unchanged.

use crate::records::{ConversationState, NewOutboxEntry};
use tandem_model::{
    Button, Capabilities, ChoiceStyle, OutboundContent, OutboundMessage, OutboxId, Party,
    Timestamp, TranscriptEntry,
};

/// Splits and degrades `content` so that every part fits `caps`. The choices, if kept,
/// ride on the last part.
pub fn shape(content: &OutboundContent, caps: &Capabilities) -> Vec<OutboundContent> {
    if let Some(media) = &content.media {
        return shape_media(content, media, caps);
    }
    let mut text = content.text.clone();
    let style = choice_style(&content.buttons, caps);
    if style.is_none() && !content.buttons.is_empty() {
        text = numbered_text(&text, &content.buttons);
    }
    let max = caps.max_text_len.max(1);
    let mut texts = split_text(&text, max);
    // The part carrying buttons or a list may have a shorter limit (WhatsApp's
    // interactive body: 1024).
    if matches!(style, Some(ChoiceStyle::Buttons | ChoiceStyle::List))
        && choice_text_limit(caps) < max
        && let Some(last) = texts.pop()
    {
        texts.extend(split_text(&last, choice_text_limit(caps).max(1)));
    }
    let mut parts: Vec<OutboundContent> = texts
        .into_iter()
        .map(|t| OutboundContent {
            text: t,
            template: content.template.clone(),
            tag: content.tag.clone(),
            sender_name: content.sender_name.clone(),
            ..OutboundContent::default()
        })
        .collect();
    if let (Some(style), Some(last)) = (style, parts.last_mut()) {
        last.buttons = content.buttons.clone();
        last.style = style;
    }
    parts
}

/// Longest caption sent with media (Telegram's 1024, WhatsApp's 1024); a longer text
/// follows the media as its own message.
pub const MAX_CAPTION_LEN: usize = 1024;

/// Media on a channel that can send it: the media first (its caption the text when that
/// fits and carries no choices), then whatever text is left, shaped as usual. On a
/// channel that cannot, the text with the link appended (`[image photo.jpg] https://…`).
fn shape_media(
    content: &OutboundContent,
    media: &tandem_model::OutboundMedia,
    caps: &Capabilities,
) -> Vec<OutboundContent> {
    let rest = OutboundContent {
        media: None,
        ..content.clone()
    };
    if !caps.media {
        return shape(
            &OutboundContent {
                text: transcript_text(content),
                ..rest
            },
            caps,
        );
    }
    let captioned = content.buttons.is_empty()
        && content.text.chars().count() <= MAX_CAPTION_LEN.min(caps.max_text_len.max(1));
    let first = OutboundContent {
        text: if captioned {
            content.text.clone()
        } else {
            String::new()
        },
        media: Some(media.clone()),
        template: content.template.clone(),
        tag: content.tag.clone(),
        sender_name: content.sender_name.clone(),
        ..OutboundContent::default()
    };
    let mut parts = vec![first];
    if !captioned && !content.text.trim().is_empty() {
        parts.extend(shape(&rest, caps));
    }
    parts
}

/// The text of `content` for a transcript or a text-only channel: its text, with the
/// media's link on a line of its own when it carries media.
pub fn transcript_text(content: &OutboundContent) -> String {
    match &content.media {
        Some(media) if content.text.trim().is_empty() => media.as_link_text(),
        Some(media) => format!("{}\n{}", content.text, media.as_link_text()),
        None => content.text.clone(),
    }
}

/// How `buttons` can be rendered on a channel, or `None` for numbered text.
pub fn choice_style(buttons: &[Button], caps: &Capabilities) -> Option<ChoiceStyle> {
    if buttons.is_empty() {
        return None;
    }
    if caps.max_payload_bytes > 0
        && buttons
            .iter()
            .any(|b| b.payload.len() > caps.max_payload_bytes)
    {
        return None;
    }
    if caps.unique_titles {
        let mut titles: Vec<&str> = buttons.iter().map(|b| b.title.as_str()).collect();
        titles.sort_unstable();
        titles.dedup();
        if titles.len() != buttons.len() {
            return None;
        }
    }
    let fits = |max_count: usize, max_title: usize| {
        buttons.len() <= max_count
            && buttons
                .iter()
                .all(|b| !b.title.is_empty() && b.title.chars().count() <= max_title)
    };
    [
        (
            ChoiceStyle::Buttons,
            caps.max_buttons,
            caps.max_button_title_len,
        ),
        (
            ChoiceStyle::QuickReplies,
            caps.max_quick_replies,
            caps.max_quick_reply_title_len,
        ),
        (
            ChoiceStyle::List,
            caps.max_list_rows,
            caps.max_list_row_title_len,
        ),
    ]
    .into_iter()
    .find(|(_, count, title)| fits(*count, *title))
    .map(|(style, _, _)| style)
}

/// `text` followed by the choices as a numbered list.
fn numbered_text(text: &str, buttons: &[Button]) -> String {
    let mut out = text.to_owned();
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    for (i, b) in buttons.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}. {}", i + 1, b.title));
    }
    out
}

/// The choice a customer picked by answering a numbered list: `"2"`, `"2."`, `"#2"` or
/// the exact title (case-insensitive). `None` for any other text.
pub fn choice_answer<'a>(text: &str, offered: &'a [Button]) -> Option<&'a Button> {
    let t = text.trim();
    let digits = t.trim_start_matches('#').trim_end_matches(['.', ')']);
    if let Ok(n) = digits.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| offered.get(i));
    }
    offered
        .iter()
        .find(|b| b.title.trim().eq_ignore_ascii_case(t))
}

/// Splits `text` into pieces of at most `max` characters, preferring line breaks, then
/// spaces, then a hard cut.
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim_end();
    if rest.chars().count() <= max {
        return vec![rest.to_owned()];
    }
    while rest.chars().count() > max {
        let hard = byte_index_of_char(rest, max);
        let window = &rest[..hard];
        let cut = window
            .rfind('\n')
            .or_else(|| window.rfind(' '))
            .filter(|&i| i > 0)
            .unwrap_or(hard);
        out.push(rest[..cut].trim_end().to_owned());
        rest = rest[cut..].trim_start();
    }
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

fn byte_index_of_char(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

/// The longest text of a part carrying buttons or a list.
fn choice_text_limit(caps: &Capabilities) -> usize {
    if caps.max_text_len_with_buttons == 0 {
        caps.max_text_len
    } else {
        caps.max_text_len_with_buttons.min(caps.max_text_len)
    }
}

/// How many recently offered buttons a conversation remembers for matching taps.
pub const OFFERED_BUTTONS_KEPT: usize = 30;

/// Adds the buttons of this turn's replies to the ones a tap may answer.
pub(crate) fn remember_buttons(
    state: &mut ConversationState,
    replies: &[(Party, OutboundContent)],
) {
    for b in replies.iter().flat_map(|(_, c)| &c.buttons) {
        state.offered_buttons.retain(|o| o.payload != b.payload);
        state.offered_buttons.push(b.clone());
    }
    let excess = state
        .offered_buttons
        .len()
        .saturating_sub(OFFERED_BUTTONS_KEPT);
    state.offered_buttons.drain(..excess);
}

/// The outbox entries rendering one transcript entry on its channel, shaped to the
/// channel's capabilities (when the channel is not running, unshaped: the dispatcher
/// parks it with a clear error).
pub fn outbox_entries(
    entry: &TranscriptEntry,
    recipient: &str,
    content: &OutboundContent,
    caps: Option<&Capabilities>,
    now: Timestamp,
) -> Vec<NewOutboxEntry> {
    let parts = match caps {
        Some(caps) => shape(content, caps),
        None => vec![content.clone()],
    };
    parts
        .into_iter()
        .map(|part| NewOutboxEntry {
            message: OutboundMessage {
                outbox_id: OutboxId::generate(),
                channel: entry.channel.clone(),
                recipient: recipient.to_owned(),
                conversation_id: entry.conversation_id.clone(),
                from: entry.from,
                content: part,
                message_id: entry.id.clone(),
                created_at: now,
            },
            next_attempt_at: now,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(max_text_len: usize, max_buttons: usize) -> Capabilities {
        Capabilities {
            max_buttons,
            max_button_title_len: 20,
            ..Capabilities::text_only(max_text_len)
        }
    }

    fn button(title: &str, payload: &str) -> Button {
        Button {
            title: title.into(),
            payload: payload.into(),
        }
    }

    fn two_buttons() -> OutboundContent {
        OutboundContent::with_buttons(
            "Pick one",
            vec![button("Yes", "yes"), button("Talk to a person", "human")],
        )
    }

    fn photo() -> tandem_model::OutboundMedia {
        tandem_model::OutboundMedia {
            kind: tandem_model::MediaKind::Image,
            url: "https://t.example/media/abc".into(),
            mime_type: Some("image/png".into()),
            filename: Some("receipt.png".into()),
        }
    }

    #[test]
    fn media_goes_with_its_caption_or_degrades_to_a_link() {
        let mut content = OutboundContent::text("Here is the label");
        content.media = Some(photo());
        let media_caps = Capabilities {
            media: true,
            ..caps(4096, 0)
        };
        let parts = shape(&content, &media_caps);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].media, Some(photo()));
        assert_eq!(parts[0].text, "Here is the label");

        // A caption too long for one: the media alone, then the text.
        content.text = "x ".repeat(700);
        let parts = shape(&content, &media_caps);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].media.is_some() && parts[0].text.is_empty());
        assert!(parts[1].media.is_none() && parts[1].text.starts_with("x x"));

        // A channel without media gets the link in the text, nothing dropped.
        content.text = "Here is the label".into();
        let parts = shape(&content, &caps(4096, 0));
        assert_eq!(parts.len(), 1);
        assert!(parts[0].media.is_none());
        assert_eq!(
            parts[0].text,
            "Here is the label\n[image receipt.png] https://t.example/media/abc"
        );
    }

    #[test]
    fn every_part_keeps_the_agent_name() {
        let mut content = OutboundContent::text("a".repeat(250));
        content.sender_name = Some("Ann".into());
        let parts = shape(&content, &caps(100, 3));
        assert_eq!(parts.len(), 3);
        assert!(
            parts
                .iter()
                .all(|p| p.sender_name.as_deref() == Some("Ann"))
        );
    }

    #[test]
    fn buttons_kept_when_supported() {
        let parts = shape(&two_buttons(), &caps(100, 3));
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].buttons.len(), 2);
        assert_eq!(parts[0].style, ChoiceStyle::Buttons);
        assert_eq!(parts[0].text, "Pick one");
    }

    #[test]
    fn buttons_become_numbered_text() {
        let parts = shape(&two_buttons(), &caps(100, 0));
        assert_eq!(parts[0].text, "Pick one\n\n1. Yes\n2. Talk to a person");
        assert!(parts[0].buttons.is_empty());
    }

    #[test]
    fn too_many_buttons_become_quick_replies_then_a_list_then_text() {
        let many: Vec<Button> = (1..=5)
            .map(|i| button(&format!("Option {i}"), &format!("o{i}")))
            .collect();
        let content = OutboundContent::with_buttons("Choose", many.clone());
        let mut c = caps(100, 3);
        c.max_quick_replies = 13;
        c.max_quick_reply_title_len = 20;
        assert_eq!(shape(&content, &c)[0].style, ChoiceStyle::QuickReplies);
        c.max_quick_replies = 0;
        c.max_list_rows = 10;
        c.max_list_row_title_len = 24;
        assert_eq!(shape(&content, &c)[0].style, ChoiceStyle::List);
        c.max_list_rows = 4;
        let parts = shape(&content, &c);
        assert!(parts[0].buttons.is_empty());
        assert!(parts[0].text.ends_with("5. Option 5"));
    }

    #[test]
    fn a_title_that_does_not_fit_is_never_cut() {
        let content =
            OutboundContent::with_buttons("Q", vec![button("A title longer than twenty", "x")]);
        let parts = shape(&content, &caps(100, 3));
        assert!(parts[0].buttons.is_empty(), "degraded, not truncated");
        assert!(parts[0].text.contains("1. A title longer than twenty"));
    }

    #[test]
    fn long_payloads_and_duplicate_titles_degrade() {
        let mut c = caps(100, 3);
        c.max_payload_bytes = 4;
        assert_eq!(choice_style(&[button("A", "12345")], &c), None);
        c.max_payload_bytes = 0;
        c.unique_titles = true;
        assert_eq!(
            choice_style(&[button("A", "1"), button("A", "2")], &c),
            None
        );
    }

    #[test]
    fn the_part_with_buttons_respects_the_shorter_limit() {
        let mut c = caps(100, 3);
        c.max_text_len_with_buttons = 30;
        let content = OutboundContent::with_buttons("word ".repeat(15), vec![button("Yes", "y")]);
        let parts = shape(&content, &c);
        assert!(parts.len() >= 2);
        assert!(
            parts
                .last()
                .is_some_and(|p| p.text.chars().count() <= 30 && p.buttons.len() == 1)
        );
        assert!(parts.iter().rev().skip(1).all(|p| p.buttons.is_empty()));
    }

    #[test]
    fn numbered_answers_map_back() {
        let offered = two_buttons().buttons;
        assert_eq!(
            choice_answer("2", &offered).map(|b| b.payload.as_str()),
            Some("human")
        );
        assert_eq!(
            choice_answer(" 1. ", &offered).map(|b| b.payload.as_str()),
            Some("yes")
        );
        assert_eq!(
            choice_answer("talk to a person", &offered).map(|b| b.payload.as_str()),
            Some("human")
        );
        assert!(choice_answer("3", &offered).is_none());
        assert!(choice_answer("0", &offered).is_none());
        assert!(choice_answer("maybe", &offered).is_none());
    }

    #[test]
    fn long_text_split_without_loss() {
        let text = "word ".repeat(50);
        let parts = split_text(&text, 32);
        assert!(parts.iter().all(|p| p.chars().count() <= 32));
        assert_eq!(parts.join(" ").split_whitespace().count(), 50);
    }

    #[test]
    fn split_handles_multibyte_and_no_spaces() {
        let text = "é".repeat(70);
        let parts = split_text(&text, 32);
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().all(|p| p.chars().count() <= 32));
    }
}
