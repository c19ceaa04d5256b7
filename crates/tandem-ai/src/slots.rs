//! Slot extraction: structured values pulled out of a customer message, such as an order
//! number, which intents can require before answering (`answer_needs` in the knowledge
//! base) and reference in their answers (`{order_number}`).

use std::collections::BTreeMap;

/// A kind of slot the bot can extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlotKind {
    /// An order number, recognised in any of these forms (first match in the message wins):
    ///
    /// * `#` followed by 3–12 letters, digits or dashes including at least one digit:
    ///   `#12345`, `#A-10023` (the `#` is not part of the value);
    /// * 1–3 letters, an optional dash, then 4–10 digits: `A-10023`, `AB123456`;
    /// * 3–12 digits right after the word `order`, `number`, `no`, `nr` or `num`:
    ///   `order 1234`, `order number 987654`;
    /// * a bare run of 5–9 digits: `12345`, `123456` (ten or more digits look like a phone
    ///   number and four like a year, so neither is taken on its own).
    ///
    /// Letters are uppercased in the value (`a-10023` → `A-10023`).
    OrderNumber,
}

impl SlotKind {
    /// Every slot kind, in extraction order.
    pub const ALL: [SlotKind; 1] = [SlotKind::OrderNumber];

    /// The slot's name, as used in the knowledge base and in `BotAnswer::slots`.
    pub fn name(self) -> &'static str {
        match self {
            SlotKind::OrderNumber => "order_number",
        }
    }

    /// The kind with this name, if any.
    pub fn from_name(name: &str) -> Option<SlotKind> {
        SlotKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Extracts this kind of slot from `text`.
    pub fn extract(self, text: &str) -> Option<String> {
        match self {
            SlotKind::OrderNumber => order_number(text),
        }
    }
}

/// Every slot found in `text`, keyed by slot name.
pub fn extract_slots(text: &str) -> BTreeMap<String, String> {
    SlotKind::ALL
        .into_iter()
        .filter_map(|kind| Some((kind.name().to_owned(), kind.extract(text)?)))
        .collect()
}

/// Words after which a shorter run of digits is still taken as an order number.
const ORDER_WORDS: &[&str] = &["order", "number", "no", "nr", "num"];

fn order_number(text: &str) -> Option<String> {
    let mut previous = "";
    for raw in text.split_whitespace() {
        let token = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '#' && c != '-');
        let token = token.trim_end_matches(|c: char| !c.is_alphanumeric());
        if let Some(pos) = token.find('#') {
            let rest = token[pos + 1..].trim_start_matches('-');
            let ok = (3..=12).contains(&rest.len())
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && rest.bytes().any(|b| b.is_ascii_digit());
            if ok {
                return Some(rest.to_ascii_uppercase());
            }
        } else if is_prefixed_number(token) {
            return Some(token.to_ascii_uppercase());
        } else if token.bytes().all(|b| b.is_ascii_digit()) {
            let after_order_word = ORDER_WORDS.contains(&previous);
            if (5..=9).contains(&token.len()) || after_order_word && (3..=12).contains(&token.len())
            {
                return Some(token.to_owned());
            }
        }
        if !token.is_empty() {
            previous = ORDER_WORDS
                .iter()
                .copied()
                .find(|w| token.eq_ignore_ascii_case(w))
                .unwrap_or("");
        }
    }
    None
}

/// `A-10023`, `AB123456`: 1–3 ASCII letters, an optional dash, 4–10 digits.
fn is_prefixed_number(token: &str) -> bool {
    let letters = token.bytes().take_while(u8::is_ascii_alphabetic).count();
    if !(1..=3).contains(&letters) {
        return false;
    }
    let rest = &token[letters..];
    let digits = rest.strip_prefix('-').unwrap_or(rest);
    (4..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_number_forms() {
        let on = |t: &str| SlotKind::OrderNumber.extract(t);
        assert_eq!(
            on("my order #12345 hasn't arrived").as_deref(),
            Some("12345")
        );
        assert_eq!(on("it's 12345").as_deref(), Some("12345"));
        assert_eq!(on("order 123456, please").as_deref(), Some("123456"));
        assert_eq!(on("Order 1234").as_deref(), Some("1234"));
        assert_eq!(on("order number: 987").as_deref(), Some("987"));
        assert_eq!(on("the number is a-10023.").as_deref(), Some("A-10023"));
        assert_eq!(on("(#AB-77881)").as_deref(), Some("AB-77881"));
        assert_eq!(on("order#55555").as_deref(), Some("55555"));
        assert_eq!(on("AB123456").as_deref(), Some("AB123456"));
    }

    #[test]
    fn not_order_numbers() {
        let on = |t: &str| SlotKind::OrderNumber.extract(t);
        assert_eq!(on("where is my order?"), None);
        assert_eq!(on("I bought it in 2024"), None);
        assert_eq!(on("call me on 01711234567"), None);
        assert_eq!(on("#1 fan"), None);
        assert_eq!(on("covid-19 delays?"), None);
        assert_eq!(on("we are #hashtag"), None);
    }

    #[test]
    fn names_round_trip() {
        for kind in SlotKind::ALL {
            assert_eq!(SlotKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(SlotKind::from_name("shoe_size"), None);
        assert_eq!(
            extract_slots("#12345")
                .get("order_number")
                .map(String::as_str),
            Some("12345")
        );
    }
}
