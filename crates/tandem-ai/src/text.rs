//! Text normalisation for intent matching: case and accent folding, punctuation
//! stripping, a small English stopword list, light suffix stemming and a cheap
//! "within one edit" test used for typo tolerance.
//!
//! The same pipeline runs over the training phrases (once, when the index is built) and
//! over every customer message, so both sides always agree on what a term is.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Words that carry no intent on their own. Deliberately small: question words
/// (`how`, `when`, `where`, `what`), `want`, `need`, greetings and politeness words other
/// than `please` are kept, because they tell intents apart ("how long" vs "where").
/// Negations are dropped too: they rarely change *which* topic a message is about
/// ("my order hasn't arrived" is still about the order).
const STOPWORDS: &[&str] = &[
    "a", "about", "am", "an", "and", "any", "are", "arent", "as", "at", "be", "been", "being",
    "by", "can", "cant", "could", "couldnt", "did", "didnt", "do", "does", "doesnt", "doing",
    "dont", "for", "from", "had", "hadnt", "has", "hasnt", "have", "havent", "i", "id", "if",
    "ill", "im", "in", "is", "isnt", "it", "its", "ive", "just", "may", "me", "might", "mine",
    "must", "my", "no", "not", "of", "on", "or", "our", "please", "pls", "plz", "shall", "should",
    "shouldnt", "so", "some", "than", "that", "thats", "the", "then", "there", "theres", "these",
    "this", "those", "to", "us", "was", "wasnt", "we", "were", "werent", "will", "with", "wont",
    "would", "wouldnt", "you", "your", "youre", "yours",
];

/// True when `word` (already folded) is a stopword.
pub(crate) fn is_stopword(word: &str) -> bool {
    STOPWORDS.binary_search(&word).is_ok()
}

/// Lowercases, folds accents (NFD, combining marks dropped), removes apostrophes (so
/// "don't" becomes "dont") and turns every other non-alphanumeric character into a space.
pub(crate) fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfd() {
        if is_combining_mark(c) || matches!(c, '\'' | '\u{2019}' | '\u{02BC}' | '`') {
            continue;
        }
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else {
            out.push(' ');
        }
    }
    out
}

/// The terms of `text`: folded, split on whitespace, stopwords and tokens containing
/// digits dropped (numbers are slots, never topic words), then stemmed.
pub(crate) fn terms(text: &str) -> Vec<String> {
    fold(text)
        .split_whitespace()
        .filter(|w| !is_stopword(w) && !w.chars().any(|c| c.is_ascii_digit()))
        .map(stem)
        .collect()
}

/// Light suffix stemming for English: plural `-s`/`-es`/`-ies`, `-ing`, `-ed`/`-ied`,
/// `-ation`, `-ly`, then a final `-e` is dropped and a final doubled consonant undoubled.
/// It is not a linguistic stemmer; it only has to map the forms of one word to the same
/// string ("shipping", "shipped", "ships" → "ship"; "charge", "charged" → "charg";
/// "cancellation", "cancelled" → "cancel"). Every stem keeps at least three characters;
/// non-ASCII words are left as they are.
pub(crate) fn stem(word: &str) -> String {
    if !word.is_ascii() || word.len() <= 3 {
        return word.to_owned();
    }
    let mut w = word.to_owned();
    let keeps = |w: &str, suffix: usize, min: usize| w.len() >= suffix + min;
    let sibilant_es = w.ends_with("es")
        && ["s", "x", "z", "ch", "sh"]
            .iter()
            .any(|s| w[..w.len() - 2].ends_with(s));
    if (w.ends_with("ies") || w.ends_with("ied")) && keeps(&w, 3, 2) {
        w.truncate(w.len() - 3);
        w.push('y');
    } else {
        let cut = if w.ends_with("sses") {
            2
        } else if w.ends_with("ing") && keeps(&w, 3, 3) {
            3
        } else if (w.ends_with("ed") || sibilant_es) && keeps(&w, 2, 3) {
            2
        } else if w.ends_with('s')
            && !["ss", "us", "is"].iter().any(|s| w.ends_with(s))
            && keeps(&w, 1, 3)
        {
            1
        } else {
            0
        };
        w.truncate(w.len() - cut);
    }
    if w.ends_with("ation") && keeps(&w, 5, 3) {
        w.truncate(w.len() - 5);
    } else if w.ends_with("ly") && keeps(&w, 2, 4) {
        w.truncate(w.len() - 2);
    }
    if w.ends_with('e') && w.len() >= 4 {
        w.truncate(w.len() - 1);
    }
    let b = w.as_bytes();
    if b.len() >= 4 && b[b.len() - 1] == b[b.len() - 2] && !is_vowel(b[b.len() - 1]) {
        w.truncate(w.len() - 1);
    }
    w
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// True when `a` and `b` differ by at most one edit: an insertion, a deletion, a
/// substitution or the swap of two adjacent characters (optimal string alignment
/// distance ≤ 1). Linear time, no allocation for ASCII input.
pub(crate) fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        let (sa, sb) = (&short[prefix..], &long[prefix..]);
        // One substitution, or one adjacent transposition.
        sa[1..] == sb[1..]
            || (sa.len() >= 2 && sa[0] == sb[1] && sa[1] == sb[0] && sa[2..] == sb[2..])
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopwords_are_sorted_for_binary_search() {
        assert!(STOPWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn folds_case_accents_and_punctuation() {
        assert_eq!(
            fold("Crème BRÛLÉE, s'il-vous-plaît!"),
            "creme brulee  sil vous plait "
        );
        assert_eq!(
            terms("I don't know where my ORDER is?!"),
            ["know", "wher", "order"]
        );
    }

    #[test]
    fn stems_word_families_together() {
        for family in [
            &["shipping", "shipped", "ships", "ship"][..],
            &["charge", "charged", "charges", "charging"],
            &[
                "cancel",
                "cancelled",
                "canceled",
                "cancellation",
                "cancelling",
            ],
            &["bill", "billed", "billing"],
            &["deliveries", "delivery"],
            &["address", "addresses"],
            &["open", "opening", "opens", "opened"],
        ] {
            let stems: Vec<String> = family.iter().map(|w| stem(w)).collect();
            assert!(
                stems.windows(2).all(|w| w[0] == w[1]),
                "{family:?} → {stems:?}"
            );
        }
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("hours"), "hour");
    }

    #[test]
    fn one_edit() {
        assert!(within_one_edit("password", "pasword"));
        assert!(within_one_edit("password", "passwrod"));
        assert!(within_one_edit("refund", "refunt"));
        assert!(within_one_edit("delivery", "deliverys"));
        assert!(!within_one_edit("password", "pswd"));
        assert!(!within_one_edit("refund", "fundre"));
    }
}
