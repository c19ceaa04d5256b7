//! [`Vader`]: a port of VADER sentiment analysis (Hutto & Gilbert, 2014, "VADER: A
//! Parsimonious Rule-based Model for Sentiment Analysis of Social Media Text"), following
//! the reference Python implementation `vaderSentiment` 3.3.2, with its lexicons shipped
//! in `data/` (MIT, see `data/LICENSE-VADER.txt`).
//!
//! The method: each token found in the lexicon gets its mean human rating (-4..4), then
//! rules adjust it — ALL-CAPS emphasis when other words are not capitalised (±0.733),
//! booster/dampener words up to three tokens before (±0.293, decaying ×0.95 and ×0.9),
//! negation within three tokens (×-0.74), "no", "never so/this", "without doubt", "at
//! least", special idioms ("kiss of death"), "but" (×0.5 before, ×1.5 after),
//! and exclamation marks (+0.292 each, up to four) and question marks (more than one)
//! add emphasis. The sum is normalised to a compound score `x / sqrt(x² + 15)`.
//!
//! Why a port and not the `vader_sentiment` crate (0.1.1, the only VADER on crates.io):
//! it builds, but it is unmaintained and differs from the reference in ways that matter
//! here: a neutral message with a question mark scores negative ("where is my order?" →
//! -0.05), booster words in the three preceding tokens are counted a second time and by
//! substring ("also" contains "so"), punctuation-only tokens count as ALL-CAPS so
//! emoticons get a spurious boost, and the "at least" exception can never apply. On the 15
//! examples of the reference README it is off on 6 (e.g. 0.8737 for 0.8545); this port
//! reproduces all 15 (see the tests).
//!
//! Deliberate deviations from the Python reference (each a fix of an evident quirk):
//! * a word with a short stem keeps its stripped form (`ok!` → `ok`); the raw token is kept
//!   only when nothing is left or it is itself a lexicon entry (emoticons such as `:D`);
//! * "but" scales by position (Python looked sentiments up by *value*, so equal values
//!   could be scaled at the wrong position);
//! * multi-code-point emoji (skin tones, ZWJ sequences) are matched longest-first, and
//!   their description is separated from the following word.

use std::collections::HashMap;
use std::sync::LazyLock;
use tandem_core::ai::{Sentiment, SentimentAnalyzer};

mod rules;

use rules::{
    C_INCR, N_SCALAR, NORMALIZATION_ALPHA, booster_value, is_booster, negation_check,
    scalar_inc_dec, special_case,
};

/// ASCII punctuation, as Python's `string.punctuation`.
fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation()
}

static LEXICONS: LazyLock<Lexicons> = LazyLock::new(Lexicons::load);

/// The word and emoji lexicons, parsed once per process.
struct Lexicons {
    words: HashMap<&'static str, f64>,
    emoji: HashMap<&'static str, &'static str>,
    /// Longest emoji key, in chars.
    emoji_max_chars: usize,
}

impl Lexicons {
    fn load() -> Self {
        let mut words = HashMap::new();
        for line in include_str!("../../data/vader_lexicon.txt").lines() {
            let mut fields = line.split('\t');
            if let (Some(word), Some(Ok(valence))) = (fields.next(), fields.next().map(str::parse))
            {
                words.insert(word, valence);
            }
        }
        let emoji: HashMap<&'static str, &'static str> =
            include_str!("../../data/emoji_utf8_lexicon.txt")
                .lines()
                .filter_map(|line| line.split_once('\t'))
                .collect();
        let emoji_max_chars = emoji.keys().map(|k| k.chars().count()).max().unwrap_or(1);
        Lexicons {
            words,
            emoji,
            emoji_max_chars,
        }
    }

    /// The valence of a token, looked up lowercased as the reference does (the few
    /// capitalised entries, `:D` or `O_o`, all have a lowercase twin).
    fn valence(&self, lower: &str) -> Option<f64> {
        self.words.get(lower).copied()
    }
}

/// Positive, negative and neutral proportions and the compound score of a text.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Polarity {
    /// Share of negative sentiment, in [0, 1].
    pub neg: f64,
    /// Share of neutral tokens, in [0, 1].
    pub neu: f64,
    /// Share of positive sentiment, in [0, 1].
    pub pos: f64,
    /// Normalised overall score in [-1, 1]; by VADER's convention ≥ 0.05 is positive and
    /// ≤ -0.05 negative.
    pub compound: f64,
}

/// VADER sentiment analyser. Cheap to create and copy: the lexicons are parsed once per
/// process, on first use.
#[derive(Clone, Copy)]
pub struct Vader {
    lex: &'static Lexicons,
}

impl std::fmt::Debug for Vader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vader")
            .field("lexicon_entries", &self.lex.words.len())
            .finish()
    }
}

impl Default for Vader {
    fn default() -> Self {
        Self::new()
    }
}

/// One message, tokenised the VADER way.
struct SentiText<'a> {
    words: Vec<&'a str>,
    lower: Vec<String>,
    cap_diff: bool,
}

impl Vader {
    /// The analyser, with the shipped lexicons.
    pub fn new() -> Self {
        Vader { lex: &LEXICONS }
    }

    /// The compound score of `text`, in [-1, 1].
    pub fn compound(&self, text: &str) -> f32 {
        self.polarity_scores(text).compound as f32
    }

    /// All of VADER's scores for `text`.
    pub fn polarity_scores(&self, text: &str) -> Polarity {
        let text = self.describe_emoji(text);
        let text = text.trim();
        let st = self.senti_text(text);
        let mut sentiments = Vec::with_capacity(st.words.len());
        for (i, lower) in st.lower.iter().enumerate() {
            let modifier = is_booster(lower)
                || (lower == "kind" && st.lower.get(i + 1).is_some_and(|n| n == "of"));
            sentiments.push(if modifier { 0.0 } else { self.valence(&st, i) });
        }
        but_check(&st.lower, &mut sentiments);
        score_valence(&sentiments, text)
    }

    fn senti_text<'a>(&self, text: &'a str) -> SentiText<'a> {
        let words: Vec<&str> = text
            .split_whitespace()
            .map(|token| {
                let stripped = token.trim_matches(is_punct);
                let short = stripped.chars().count() <= 2;
                if stripped.is_empty() || short && self.lex.valence(&token.to_lowercase()).is_some()
                {
                    token
                } else {
                    stripped
                }
            })
            .collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
        let caps = words.iter().filter(|w| is_upper(w)).count();
        SentiText {
            cap_diff: caps > 0 && caps < words.len(),
            words,
            lower,
        }
    }

    fn in_lexicon(&self, st: &SentiText<'_>, i: usize) -> bool {
        self.lex.valence(&st.lower[i]).is_some()
    }

    /// The valence of token `i` with its context rules applied (0 if not in the lexicon).
    fn valence(&self, st: &SentiText<'_>, i: usize) -> f64 {
        let (words, lower) = (&st.words, &st.lower);
        let Some(base) = self.lex.valence(&lower[i]) else {
            return 0.0;
        };
        let mut valence = base;
        // "no" negates an adjacent lexicon word instead of counting on its own.
        if lower[i] == "no" && i + 1 < words.len() && self.in_lexicon(st, i + 1) {
            valence = 0.0;
        }
        if (i > 0 && lower[i - 1] == "no")
            || (i > 1 && lower[i - 2] == "no")
            || (i > 2 && lower[i - 3] == "no" && matches!(lower[i - 1].as_str(), "or" | "nor"))
        {
            valence = base * N_SCALAR;
        }
        if is_upper(words[i]) && st.cap_diff {
            valence += if valence > 0.0 { C_INCR } else { -C_INCR };
        }
        for start_i in 0..3 {
            if i > start_i && !self.in_lexicon(st, i - start_i - 1) {
                let prev = i - start_i - 1;
                let mut s = scalar_inc_dec(words[prev], &lower[prev], valence, st.cap_diff);
                if start_i == 1 {
                    s *= 0.95;
                } else if start_i == 2 {
                    s *= 0.9;
                }
                valence = negation_check(valence + s, lower, start_i, i);
                if start_i == 2 {
                    valence = special_idioms_check(valence, lower, i);
                }
            }
        }
        self.least_check(valence, st, i)
    }

    fn least_check(&self, valence: f64, st: &SentiText<'_>, i: usize) -> f64 {
        let lower = &st.lower;
        if i > 0 && lower[i - 1] == "least" && !self.in_lexicon(st, i - 1) {
            let at_least = i > 1 && matches!(lower[i - 2].as_str(), "at" | "very");
            if !at_least {
                return valence * N_SCALAR;
            }
        }
        valence
    }

    /// Replaces emoji by their descriptions ("😡" → "pouting face"), longest match first.
    fn describe_emoji(&self, text: &str) -> String {
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut out = String::with_capacity(text.len());
        let mut prev_space = true;
        let mut k = 0;
        while k < chars.len() {
            let (start, c) = chars[k];
            let mut found = None;
            if !c.is_ascii() {
                for len in (1..=self.lex.emoji_max_chars.min(chars.len() - k)).rev() {
                    let end = chars.get(k + len).map_or(text.len(), |&(e, _)| e);
                    if let Some(desc) = self.lex.emoji.get(&text[start..end]) {
                        found = Some((len, *desc));
                        break;
                    }
                }
            }
            match found {
                Some((len, desc)) => {
                    if !prev_space {
                        out.push(' ');
                    }
                    out.push_str(desc);
                    k += len;
                    // A dangling variation selector would glue itself to the next word.
                    while chars.get(k).is_some_and(|&(_, c)| c == '\u{FE0F}') {
                        k += 1;
                    }
                    if chars.get(k).is_some_and(|&(_, c)| !c.is_whitespace()) {
                        out.push(' ');
                    }
                    prev_space = false;
                }
                None => {
                    out.push(c);
                    prev_space = c == ' ';
                    k += 1;
                }
            }
        }
        out
    }
}

/// Python's `str.isupper`: at least one cased character and no lowercase one.
fn is_upper(word: &str) -> bool {
    let mut cased = false;
    for c in word.chars() {
        if c.is_lowercase() {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// Idioms around word `i` (called with `i >= 3`), and two-word boosters before it.
fn special_idioms_check(mut valence: f64, w: &[String], i: usize) -> f64 {
    let one_zero = format!("{} {}", w[i - 1], w[i]);
    let two_one_zero = format!("{} {} {}", w[i - 2], w[i - 1], w[i]);
    let two_one = format!("{} {}", w[i - 2], w[i - 1]);
    let three_two_one = format!("{} {} {}", w[i - 3], w[i - 2], w[i - 1]);
    let three_two = format!("{} {}", w[i - 3], w[i - 2]);
    for seq in [
        &one_zero,
        &two_one_zero,
        &two_one,
        &three_two_one,
        &three_two,
    ] {
        if let Some(v) = special_case(seq) {
            valence = v;
            break;
        }
    }
    if w.len() > i + 1
        && let Some(v) = special_case(&format!("{} {}", w[i], w[i + 1]))
    {
        valence = v;
    }
    if w.len() > i + 2
        && let Some(v) = special_case(&format!("{} {} {}", w[i], w[i + 1], w[i + 2]))
    {
        valence = v;
    }
    for n_gram in [&three_two_one, &three_two, &two_one] {
        if let Some(b) = booster_value(n_gram) {
            valence += b;
        }
    }
    valence
}

/// Scales sentiment before the first "but" by 0.5 and after it by 1.5.
fn but_check(lower: &[String], sentiments: &mut [f64]) {
    if let Some(bi) = lower.iter().position(|w| w == "but") {
        for (si, s) in sentiments.iter_mut().enumerate() {
            if si < bi {
                *s *= 0.5;
            } else if si > bi {
                *s *= 1.5;
            }
        }
    }
}

/// Emphasis from "!" (0.292 each, up to 4) and "?" (0.18 each when 2 or 3, 0.96 beyond).
fn punctuation_emphasis(text: &str) -> f64 {
    let ep = text.matches('!').count().min(4) as f64 * 0.292;
    let qm = match text.matches('?').count() {
        0 | 1 => 0.0,
        n @ 2..=3 => n as f64 * 0.18,
        _ => 0.96,
    };
    ep + qm
}

fn normalize(score: f64) -> f64 {
    (score / (score * score + NORMALIZATION_ALPHA).sqrt()).clamp(-1.0, 1.0)
}

fn score_valence(sentiments: &[f64], text: &str) -> Polarity {
    if sentiments.is_empty() {
        return Polarity::default();
    }
    let mut sum: f64 = sentiments.iter().sum();
    let punct = punctuation_emphasis(text);
    if sum > 0.0 {
        sum += punct;
    } else if sum < 0.0 {
        sum -= punct;
    }
    let compound = normalize(sum);
    let (mut pos, mut neg, mut neu) = (0.0, 0.0, 0.0);
    for &s in sentiments {
        if s > 0.0 {
            pos += s + 1.0;
        } else if s < 0.0 {
            neg += s - 1.0;
        } else {
            neu += 1.0;
        }
    }
    if pos > neg.abs() {
        pos += punct;
    } else if pos < neg.abs() {
        neg -= punct;
    }
    let total = pos + neg.abs() + neu;
    Polarity {
        neg: (neg / total).abs(),
        neu: (neu / total).abs(),
        pos: (pos / total).abs(),
        compound,
    }
}

#[async_trait::async_trait]
impl SentimentAnalyzer for Vader {
    async fn analyze(&self, text: &str) -> Sentiment {
        Sentiment {
            compound: self.compound(text),
            call: Some(tandem_core::ai::AiCall::new("builtin").with_model("vader")),
        }
    }
}
