//! Keyword matching, compiled once per policy version.
//!
//! Every keyword is normalised (see [`crate::text`]) and expanded to its word forms; all
//! forms go into one Aho-Corasick automaton. Scanning a message normalises it into a
//! reusable buffer, corrects words one typo away from a keyword word (at least
//! `fuzzy_min_len` letters, never a word listed in `not_typos`), runs the automaton once
//! (overlapping matches), and keeps the matches that start and end on word boundaries,
//! noting whether a negator precedes them in the same clause.

use crate::text::{BREAK, normalize, phrase_forms, within_one_edit};
use aho_corasick::AhoCorasick;
use std::collections::{HashMap, HashSet};

/// Most word-form combinations generated for one keyword phrase.
const FORMS_CAP: usize = 48;

/// What a keyword belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A category group (index into the engine's groups).
    Group(usize),
    /// A mild distress word.
    Mild,
    /// A profanity.
    Profanity,
}

/// One keyword as written in the policy.
#[derive(Debug, Clone)]
pub(crate) struct Keyword {
    /// As written (the evidence in reasons).
    pub text: String,
    /// What it belongs to.
    pub owner: Owner,
}

/// A keyword found in a message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    /// Index into [`Matcher::keywords`].
    pub keyword: usize,
    /// A negator precedes it in the same clause.
    pub negated: bool,
    /// Where it matched in the corrected text (byte range).
    pub span: (u32, u32),
}

/// Per-call buffers, reused through a thread-local so that scanning does not allocate.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The normalised message.
    pub norm: String,
    /// The normalised message after typo correction.
    pub fixed: String,
    /// Keywords found.
    pub hits: Vec<Hit>,
    key: String,
}

/// The compiled keyword matcher.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub keywords: Vec<Keyword>,
    automaton: AhoCorasick,
    /// Pattern id → keyword index.
    pattern_keyword: Vec<usize>,
    /// Every word that occurs in a pattern, and words never corrected.
    known: HashSet<String>,
    /// Single-deletion neighbourhoods of correctable words → the words.
    deletions: HashMap<String, Vec<u32>>,
    correctable: Vec<String>,
    fuzzy_min_len: usize,
    negators: Vec<String>,
    negation_window: usize,
}

/// What [`Matcher::build`] needs.
pub(crate) struct MatcherSpec<'a> {
    pub keywords: Vec<Keyword>,
    pub fuzzy_min_len: usize,
    pub not_typos: &'a [String],
    pub negators: &'a [String],
    pub negation_window: usize,
}

impl Matcher {
    /// Compiles the keywords.
    pub(crate) fn build(spec: MatcherSpec<'_>) -> Result<Matcher, String> {
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_keyword = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, k) in spec.keywords.iter().enumerate() {
            let norm = normalize(&k.text).replace(BREAK, " ");
            let norm = norm.split_whitespace().collect::<Vec<_>>().join(" ");
            for form in phrase_forms(&norm, FORMS_CAP) {
                // The same form in two keywords: both owners must see it, so keep one
                // pattern per (form, keyword).
                let key = format!("{form}\u{0}{i}");
                if seen.insert(key, i).is_none() {
                    patterns.push(form);
                    pattern_keyword.push(i);
                }
            }
        }
        let automaton = AhoCorasick::builder()
            .build(&patterns)
            .map_err(|e| format!("cannot compile the keyword automaton: {e}"))?;
        let mut known: HashSet<String> = HashSet::new();
        for p in &patterns {
            known.extend(p.split(' ').map(str::to_owned));
        }
        let mut correctable: Vec<String> = known
            .iter()
            .filter(|w| spec.fuzzy_min_len > 0 && w.len() >= spec.fuzzy_min_len && w.is_ascii())
            .cloned()
            .collect();
        correctable.sort();
        let mut deletions: HashMap<String, Vec<u32>> = HashMap::new();
        for (id, w) in correctable.iter().enumerate() {
            let id = id as u32;
            let mut add = |k: String| {
                let e = deletions.entry(k).or_default();
                if !e.contains(&id) {
                    e.push(id);
                }
            };
            add(w.clone());
            for i in 0..w.len() {
                add(format!("{}{}", &w[..i], &w[i + 1..]));
            }
        }
        for w in spec.not_typos {
            known.insert(normalize(w));
        }
        let negators = spec.negators.iter().map(|n| normalize(n)).collect();
        Ok(Matcher {
            keywords: spec.keywords,
            automaton,
            pattern_keyword,
            known,
            deletions,
            correctable,
            fuzzy_min_len: spec.fuzzy_min_len,
            negators,
            negation_window: spec.negation_window,
        })
    }

    /// The correctable word one edit away from `token` (the first in sorted order), unless
    /// `token` is short, known, or not plain ASCII letters.
    fn correct(&self, token: &str, key: &mut String) -> Option<&str> {
        if self.fuzzy_min_len == 0
            || token.len() < self.fuzzy_min_len
            || !token.bytes().all(|b| b.is_ascii_lowercase())
            || self.known.contains(token)
        {
            return None;
        }
        let check = |ids: &Vec<u32>| {
            ids.iter()
                .map(|&id| self.correctable[id as usize].as_str())
                .find(|w| within_one_edit(token, w))
        };
        if let Some(w) = self.deletions.get(token).and_then(check) {
            return Some(w);
        }
        for i in 0..token.len() {
            key.clear();
            key.push_str(&token[..i]);
            key.push_str(&token[i + 1..]);
            if let Some(w) = self.deletions.get(key.as_str()).and_then(check) {
                return Some(w);
            }
        }
        None
    }

    /// Scans `text`: fills `scratch.norm`, `scratch.fixed` and `scratch.hits`.
    pub(crate) fn scan(&self, text: &str, scratch: &mut Scratch) {
        let Scratch {
            norm,
            fixed,
            hits,
            key,
        } = scratch;
        crate::text::normalize_into(text, norm);
        fixed.clear();
        for (i, token) in norm.split(' ').enumerate() {
            if i > 0 {
                fixed.push(' ');
            }
            fixed.push_str(self.correct(token, key).unwrap_or(token));
        }
        hits.clear();
        let bytes = fixed.as_bytes();
        for m in self.automaton.find_overlapping_iter(fixed.as_str()) {
            let (s, e) = (m.start(), m.end());
            if (s > 0 && bytes[s - 1] != b' ') || (e < bytes.len() && bytes[e] != b' ') {
                continue;
            }
            let keyword = self.pattern_keyword[m.pattern().as_usize()];
            let owner = self.keywords[keyword].owner;
            let span = (s as u32, e as u32);
            // One keyword once; one stretch of text once per owner ("frustrated" is a
            // form of two mild words, "switching to a competitor" of two retention ones).
            if hits.iter().any(|h| {
                h.keyword == keyword || (h.span == span && self.keywords[h.keyword].owner == owner)
            }) {
                continue;
            }
            let negated = self.negated(&fixed[..s]);
            hits.push(Hit {
                keyword,
                negated,
                span,
            });
        }
    }

    /// Whether a negator occurs among the last `negation_window + 1` words of `before`,
    /// within the same clause (`,`, `.`, `but`, ... end a clause).
    fn negated(&self, before: &str) -> bool {
        for word in before
            .split(' ')
            .rev()
            .filter(|w| !w.is_empty())
            .take(self.negation_window + 1)
        {
            if word == BREAK || word == "but" {
                return false;
            }
            if self.negators.iter().any(|n| n == word) {
                return true;
            }
        }
        false
    }
}
