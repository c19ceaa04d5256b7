//! Feature extraction for the intent model: hashed word and character n-grams.
//!
//! A message is folded like everything else in `tandem-ai` (lowercase, accents and
//! apostrophes removed, punctuation as spaces; see [`crate::text::fold`]); then:
//!
//! * every word, and every pair of neighbouring words, with the message's start and end
//!   as pseudo-words (`<s> how`, `cancel </s>`): the word order that tells "how do I
//!   cancel" from "cancel my plan";
//! * the stem of every word that is not a stopword, and pairs of neighbouring stems
//!   skipping stopwords ("refund order" in "refund my order");
//! * the character 3- and 4-grams of each word padded with spaces (" can", "canc",
//!   "ncel", "el "): robust to typos and inflections ("cancelation", "cancle");
//! * whether the raw text contains a question mark.
//!
//! Each feature is hashed (64-bit FNV-1a, with a one-byte namespace per kind) into one of
//! `2^BITS` buckets; the hash's top bit gives it a sign, so that two features colliding in
//! one bucket tend to cancel rather than add up. All features have the same value,
//! `1/sqrt(n)` for `n` features, so a long message weighs as much as a short one.

use crate::text::fold;

/// log2 of the number of hash buckets.
pub(crate) const BITS: u32 = 15;
/// The number of hash buckets.
pub(crate) const BUCKETS: usize = 1 << BITS;

/// One active feature: its bucket and signed value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Feature {
    pub bucket: u32,
    pub value: f32,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// Buffers reused between messages.
#[derive(Debug, Default)]
pub(crate) struct Extractor {
    padded: Vec<u8>,
    hashes: Vec<u64>,
}

impl Extractor {
    /// The features of `text`, into `out` (cleared first).
    pub(crate) fn extract(&mut self, text: &str, out: &mut Vec<Feature>) {
        out.clear();
        self.hashes.clear();
        let folded = fold(text);
        let words: Vec<&str> = folded.split_whitespace().collect();
        let push = |hashes: &mut Vec<u64>, parts: &[&[u8]]| {
            let mut h = FNV_OFFSET;
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    h = fnv(h, b" ");
                }
                h = fnv(h, p);
            }
            hashes.push(h);
        };
        let start: &[u8] = b"<s>";
        let end: &[u8] = b"</s>";
        let mut prev: &[u8] = start;
        let mut prev_stem = String::from("<s>");
        for w in &words {
            // The stem ("refunds", "refunded" → "refund"), alone and after the previous
            // content word's stem: inflections and filler words ("my", "the") do not
            // split what customers say.
            if !crate::text::is_stopword(w) {
                let stem = crate::text::stem(w);
                push(&mut self.hashes, &[b"s", stem.as_bytes()]);
                push(
                    &mut self.hashes,
                    &[b"t", prev_stem.as_bytes(), stem.as_bytes()],
                );
                prev_stem = stem;
            }
            let w = w.as_bytes();
            push(&mut self.hashes, &[b"w", w]);
            push(&mut self.hashes, &[b"b", prev, w]);
            prev = w;
            self.padded.clear();
            self.padded.push(b' ');
            self.padded.extend_from_slice(w);
            self.padded.push(b' ');
            for n in [3usize, 4] {
                for gram in self.padded.windows(n) {
                    push(&mut self.hashes, &[b"c", gram]);
                }
            }
        }
        if !words.is_empty() {
            push(&mut self.hashes, &[b"b", prev, end]);
        }
        if text.contains('?') || text.contains('\u{ff1f}') {
            push(&mut self.hashes, &[b"q"]);
        }
        if self.hashes.is_empty() {
            push(&mut self.hashes, &[b"empty"]);
        }
        let value = 1.0 / (self.hashes.len() as f32).sqrt();
        out.extend(self.hashes.iter().map(|h| Feature {
            bucket: (h & (BUCKETS as u64 - 1)) as u32,
            value: if h >> 63 == 1 { -value } else { value },
        }));
    }
}

/// Words that negate what follows ("don't", "not", "no", "never"), after folding.
const NEGATORS: &[&str] = &[
    "dont", "doesnt", "didnt", "not", "no", "never", "nor", "wont", "neither",
];

/// Words of wanting or intending: a negator shortly before one negates the request
/// ("I don't want to cancel", "not looking for a refund", "no need for a human").
const WANTS: &[&str] = &[
    "want",
    "wanna",
    "need",
    "wish",
    "mean",
    "plan",
    "planning",
    "intend",
    "asking",
    "looking",
    "trying",
    "going",
    "interested",
    "cancelling",
    "canceling",
    "cancel",
    "complaining",
];

/// Whether `text` says the customer does *not* want something: a negator at most three
/// words before a word of wanting, within one clause (clauses end at , . ; : ! ? and
/// "but"). "I can't log in" is a problem, not a negated wish.
pub(crate) fn negated(text: &str) -> bool {
    for raw in text.split_inclusive([',', '.', ';', ':', '!', '?']) {
        let mut since_negator: Option<usize> = None;
        for w in fold(raw).split_whitespace() {
            if w == "but" {
                since_negator = None;
                continue;
            }
            if NEGATORS.contains(&w) {
                since_negator = Some(0);
                continue;
            }
            if let Some(n) = since_negator {
                if WANTS.contains(&w) {
                    return true;
                }
                since_negator = (n < 2).then_some(n + 1);
            }
        }
    }
    false
}
