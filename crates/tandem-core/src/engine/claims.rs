//! What a customer's words claim about who they are: an email address or phone number
//! typed in a message (a suggested link at most, never a merge; see `crate::claims`) and
//! a link code (see `crate::linking`). Pure text reading; the runtime asks the store.

use crate::records::VerifiedKey;

/// Letters and digits that cannot be mistaken for each other (no 0/O, 1/I/L).
pub(crate) const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Code length.
pub const CODE_LEN: usize = 6;

/// Normalizes what a customer sent into a candidate code, if it has the code's shape.
pub fn candidate(text: &str) -> Option<String> {
    let t = text.trim().to_ascii_uppercase();
    (t.len() == CODE_LEN && t.bytes().all(|b| ALPHABET.contains(&b))).then_some(t)
}

/// At most this many claims are looked up per message.
pub const MAX_CLAIMS: usize = 4;

/// The email addresses and `+`-prefixed phone numbers in `text`, normalized as keys,
/// without duplicates, at most [`MAX_CLAIMS`]. Bare digit runs are not phone claims
/// (order numbers look like them).
pub fn claimed_keys(text: &str) -> Vec<VerifiedKey> {
    let mut keys: Vec<VerifiedKey> = Vec::new();
    let mut push = |k: VerifiedKey| {
        if keys.len() < MAX_CLAIMS && !keys.contains(&k) {
            keys.push(k);
        }
    };
    if text.contains('@') {
        for token in text.split(|c: char| c.is_whitespace() || "<>()[]{},;:\"'`".contains(c)) {
            if let Some(key) = email_token(token) {
                push(key);
            }
        }
    }
    if text.contains('+') {
        for key in phone_numbers(text) {
            push(key);
        }
    }
    keys
}

/// An email key when `token` (trailing sentence punctuation ignored) looks like
/// `local@domain.tld`.
fn email_token(token: &str) -> Option<VerifiedKey> {
    let token = token.trim_end_matches(['.', '!', '?']);
    let (local, domain) = token.split_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.');
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic()));
    (local_ok && domain_ok)
        .then(|| VerifiedKey::email(token))
        .flatten()
}

/// Phone keys for every `+` followed by 8 to 15 digits, which may be grouped with single
/// spaces, `-`, `.` or parentheses (`+49 151 1234-5678`, `+1 (555) 010-0999`).
fn phone_numbers(text: &str) -> Vec<VerifiedKey> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('+') {
        let candidate = &rest[at + 1..];
        let mut digits = 0;
        let mut end = 0;
        // Separators in a row (at most two, as in ") " or " ("), and the previous char.
        let mut run = 0;
        let mut prev = '+';
        for (i, c) in candidate.char_indices() {
            if c.is_ascii_digit() {
                digits += 1;
                end = i + 1;
                run = 0;
            } else if matches!(c, ' ' | '-' | '.' | '(' | ')')
                && run < 2
                && !(c == ' ' && prev == ' ')
                && (digits > 0 || c == '(')
            {
                run += 1;
            } else {
                break;
            }
            prev = c;
            if digits > 15 {
                break;
            }
        }
        if (8..=15).contains(&digits)
            && let Some(key) = VerifiedKey::phone(&format!("+{}", &candidate[..end]))
        {
            out.push(key);
        }
        rest = &rest[at + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        claimed_keys(text).into_iter().map(|k| k.label()).collect()
    }

    #[test]
    fn emails_in_sentences() {
        assert_eq!(
            values("my email is Ada.Lovelace+shop@Example.co.uk."),
            ["email:ada.lovelace+shop@example.co.uk"]
        );
        assert_eq!(
            values("<ada@example.org>, thanks!"),
            ["email:ada@example.org"]
        );
        assert_eq!(
            values("ada@example.org or ADA@example.org, b@x.io"),
            ["email:ada@example.org", "email:b@x.io"]
        );
        assert!(values("meet me @ the store").is_empty());
        assert!(values("user@localhost").is_empty());
        assert!(values("a@b.c").is_empty(), "one-letter top-level domain");
        assert!(values("@handle and x@-bad.com and .a@b.com").is_empty());
        assert!(values("no claims here, order 12345").is_empty());
    }

    #[test]
    fn international_phone_numbers_only() {
        assert_eq!(
            values("call me on +49 151 1234-5678 please"),
            ["phone:+4915112345678"]
        );
        assert_eq!(
            values("+1 (555) 010-0999"),
            ["phone:+15550100999"],
            "grouped with parentheses"
        );
        assert!(values("my order is 4915112345678").is_empty(), "no +");
        assert!(values("+123 is short").is_empty());
        assert!(values("2+2=4, c++").is_empty());
        assert!(values("+1234567890123456789").is_empty(), "too long");
        assert!(
            values("+49  151 12345678").is_empty(),
            "double space ends it"
        );
    }

    #[test]
    fn bounded_and_never_panics() {
        let many: String = (0..50).map(|i| format!("u{i}@example.org ")).collect();
        assert_eq!(claimed_keys(&many).len(), MAX_CLAIMS);
        for odd in [
            "@",
            "+",
            "@@",
            "++",
            "é@é.é",
            "a@b.cd\u{0}",
            "+(((",
            "+ 1",
            "😀@😀.com +😀",
        ] {
            let _ = claimed_keys(odd);
        }
    }

    #[test]
    fn candidates_have_the_code_shape() {
        assert_eq!(candidate(" k7p3qx "), Some("K7P3QX".into()));
        assert_eq!(candidate("K7P3Q"), None);
        assert_eq!(candidate("K7P3Q0"), None, "0 is not in the alphabet");
        assert_eq!(candidate("hello there"), None);
    }
}
