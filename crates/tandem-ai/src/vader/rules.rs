//! VADER's word lists and constants (from vaderSentiment 3.3.2): the empirically derived
//! scalars, negation words, booster/dampener words and special-case idioms, with the
//! small lookups over them.

use super::is_upper;

const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
pub(super) const C_INCR: f64 = 0.733;
pub(super) const N_SCALAR: f64 = -0.74;
pub(super) const NORMALIZATION_ALPHA: f64 = 15.0;

const NEGATE: &[&str] = &[
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

const BOOSTERS_UP: &[&str] = &[
    "absolutely",
    "amazingly",
    "awfully",
    "completely",
    "considerable",
    "considerably",
    "decidedly",
    "deeply",
    "effing",
    "enormous",
    "enormously",
    "entirely",
    "especially",
    "exceptional",
    "exceptionally",
    "extreme",
    "extremely",
    "fabulously",
    "flipping",
    "flippin",
    "frackin",
    "fracking",
    "fricking",
    "frickin",
    "frigging",
    "friggin",
    "fully",
    "fuckin",
    "fucking",
    "fuggin",
    "fugging",
    "greatly",
    "hella",
    "highly",
    "hugely",
    "incredible",
    "incredibly",
    "intensely",
    "major",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "total",
    "totally",
    "tremendous",
    "tremendously",
    "uber",
    "unbelievably",
    "unusually",
    "utter",
    "utterly",
    "very",
];

const BOOSTERS_DOWN: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "just enough",
    "kind of",
    "kinda",
    "kindof",
    "kind-of",
    "less",
    "little",
    "marginal",
    "marginally",
    "occasional",
    "occasionally",
    "partly",
    "scarce",
    "scarcely",
    "slight",
    "slightly",
    "somewhat",
    "sort of",
    "sorta",
    "sortof",
    "sort-of",
];

const SPECIAL_CASES: &[(&str, f64)] = &[
    ("the shit", 3.0),
    ("the bomb", 3.0),
    ("bad ass", 1.5),
    ("badass", 1.5),
    ("bus stop", 0.0),
    ("yeah right", -2.0),
    ("kiss of death", -1.5),
    ("to die for", 3.0),
    ("beating heart", 3.1),
    ("broken heart", -2.9),
];

/// The scalar of a booster (+0.293) or dampener (-0.293) word.
pub(super) fn booster_value(lower: &str) -> Option<f64> {
    if BOOSTERS_UP.contains(&lower) {
        Some(B_INCR)
    } else if BOOSTERS_DOWN.contains(&lower) {
        Some(B_DECR)
    } else {
        None
    }
}

/// True for booster and dampener words (they carry no valence of their own).
pub(super) fn is_booster(lower: &str) -> bool {
    booster_value(lower).is_some()
}

/// True for negation words and any word containing "n't".
pub(super) fn is_negated(lower: &str) -> bool {
    NEGATE.contains(&lower) || lower.contains("n't")
}

/// The boost a preceding booster/dampener word gives a word of this valence.
pub(super) fn scalar_inc_dec(word: &str, lower: &str, valence: f64, cap_diff: bool) -> f64 {
    let Some(mut scalar) = booster_value(lower) else {
        return 0.0;
    };
    if valence < 0.0 {
        scalar = -scalar;
    }
    if is_upper(word) && cap_diff {
        scalar += if valence > 0.0 { C_INCR } else { -C_INCR };
    }
    scalar
}

/// Applies negation and the "never so", "without doubt" patterns to the word at `i`,
/// looking `start_i + 1` tokens back (`w` is lowercased).
pub(super) fn negation_check(valence: f64, w: &[String], start_i: usize, i: usize) -> f64 {
    let is = |k: usize, s: &str| w[k] == s;
    match start_i {
        0 if is_negated(&w[i - 1]) => valence * N_SCALAR,
        1 if is(i - 2, "never") && (is(i - 1, "so") || is(i - 1, "this")) => valence * 1.25,
        1 if is(i - 2, "without") && is(i - 1, "doubt") => valence,
        1 if is_negated(&w[i - 2]) => valence * N_SCALAR,
        // The reference groups this condition exactly so (a "so"/"this" right before the
        // word counts even without "never"); kept for fidelity.
        2 if is(i - 3, "never") && (is(i - 2, "so") || is(i - 2, "this"))
            || (is(i - 1, "so") || is(i - 1, "this")) =>
        {
            valence * 1.25
        }
        2 if is(i - 3, "without") && (is(i - 2, "doubt") || is(i - 1, "doubt")) => valence,
        2 if is_negated(&w[i - 3]) => valence * N_SCALAR,
        _ => valence,
    }
}

/// The valence of a special-case idiom.
pub(super) fn special_case(seq: &str) -> Option<f64> {
    SPECIAL_CASES
        .iter()
        .find(|(k, _)| *k == seq)
        .map(|&(_, v)| v)
}
