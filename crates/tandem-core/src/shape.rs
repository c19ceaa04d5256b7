//! Shapes a reply to what a channel can render: buttons the channel cannot show become
//! numbered text, over-long text is split at word boundaries. Nothing is dropped.

use tandem_model::{Button, Capabilities, OutboundContent};

/// Splits and degrades `content` so that every part fits `caps`. The buttons, if kept,
/// ride on the last part.
pub fn shape(content: &OutboundContent, caps: &Capabilities) -> Vec<OutboundContent> {
    let mut text = content.text.clone();
    let mut buttons: Vec<Button> = Vec::new();
    if !content.buttons.is_empty() {
        if content.buttons.len() <= caps.max_buttons {
            buttons = content
                .buttons
                .iter()
                .map(|b| Button {
                    title: truncate_chars(&b.title, caps.max_button_title_len.max(1)),
                    payload: b.payload.clone(),
                })
                .collect();
        } else {
            // Numbered text: the customer answers with the number or the title.
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            for (i, b) in content.buttons.iter().enumerate() {
                if i > 0 {
                    text.push('\n');
                }
                text.push_str(&format!("{}. {}", i + 1, b.title));
            }
        }
    }
    let mut parts: Vec<OutboundContent> = split_text(&text, caps.max_text_len.max(1))
        .into_iter()
        .map(OutboundContent::text)
        .collect();
    if let Some(last) = parts.last_mut() {
        last.buttons = buttons;
    }
    parts
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

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
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

    fn two_buttons() -> OutboundContent {
        OutboundContent::with_buttons(
            "Pick one",
            vec![
                Button {
                    title: "Yes".into(),
                    payload: "yes".into(),
                },
                Button {
                    title: "Talk to a person".into(),
                    payload: "human".into(),
                },
            ],
        )
    }

    #[test]
    fn buttons_kept_when_supported() {
        let parts = shape(&two_buttons(), &caps(100, 3));
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].buttons.len(), 2);
        assert_eq!(parts[0].text, "Pick one");
    }

    #[test]
    fn buttons_become_numbered_text() {
        let parts = shape(&two_buttons(), &caps(100, 0));
        assert_eq!(parts[0].text, "Pick one\n\n1. Yes\n2. Talk to a person");
        assert!(parts[0].buttons.is_empty());
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
