//! Text normalisation and word forms, shared by keyword compilation and message scanning
//! so that both sides of a match are normalised alike.
//!
//! * [`normalize_into`]: lowercase, accents stripped (NFD, combining marks dropped),
//!   apostrophes joined (`don't` → `dont`), every other non-alphanumeric run turned into a
//!   single space, and clause punctuation (`, . ; : ! ? ( )` and line breaks) into the
//!   token [`BREAK`], so that negation never reaches across a clause. ASCII text takes a
//!   fast path with no Unicode normalisation.
//! * [`word_forms`]: the regular inflections of a keyword word (plural, past, gerund,
//!   British/American doubling, `-ation` nouns), generated once when a policy compiles.
//! * [`within_one_edit`]: optimal-string-alignment distance ≤ 1 (one insertion, deletion,
//!   substitution or swap of neighbours), for typo tolerance.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The token standing for a clause break in normalised text.
pub(crate) const BREAK: &str = "|";

#[derive(Clone, Copy, PartialEq)]
enum Sep {
    None,
    Space,
    Break,
}

/// Normalises `text` into `out` (cleared first): tokens separated by single spaces,
/// clause breaks as [`BREAK`] tokens, no leading or trailing separator.
pub(crate) fn normalize_into(text: &str, out: &mut String) {
    out.clear();
    let mut sep = Sep::None;
    if text.is_ascii() {
        for c in text.chars() {
            push_char(c, out, &mut sep);
        }
    } else {
        for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
            push_char(c, out, &mut sep);
        }
    }
}

/// Normalises `text` into a new string.
pub(crate) fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, &mut out);
    out
}

fn push_char(c: char, out: &mut String, sep: &mut Sep) {
    if c.is_alphanumeric() {
        if !out.is_empty() {
            match *sep {
                Sep::None => {}
                Sep::Space => out.push(' '),
                Sep::Break => {
                    if !out.ends_with(BREAK) {
                        out.push(' ');
                        out.push_str(BREAK);
                    }
                    out.push(' ');
                }
            }
        }
        *sep = Sep::None;
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    } else if matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{b4}') {
        // don't → dont, what's → whats
    } else if matches!(
        c,
        ',' | '.' | ';' | ':' | '!' | '?' | '(' | ')' | '\n' | '\r' | '\u{ff01}' | '\u{ff1f}'
    ) {
        *sep = Sep::Break;
    } else if *sep == Sep::None {
        *sep = Sep::Space;
    }
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Consonant-vowel-consonant ending of a short word (`stop`, `ban`), whose final
/// consonant doubles before `-ed`/`-ing`.
fn doubles(word: &str) -> bool {
    let b = word.as_bytes();
    let n = b.len();
    (3..=4).contains(&n)
        && !is_vowel(b[n - 1])
        && !matches!(b[n - 1], b'w' | b'x' | b'y')
        && is_vowel(b[n - 2])
        && !is_vowel(b[n - 3])
}

/// Candidate base forms of an (English) word: itself, and what it is an inflection of.
fn bases(word: &str) -> Vec<String> {
    let mut out = vec![word.to_owned()];
    let mut add = |s: String| {
        if s.len() >= 3 && !out.contains(&s) {
            out.push(s);
        }
    };
    let undouble = |s: &str| -> Option<String> {
        let b = s.as_bytes();
        let n = b.len();
        (n >= 2 && b[n - 1] == b[n - 2] && !is_vowel(b[n - 1])).then(|| s[..n - 1].to_owned())
    };
    if let Some(s) = word.strip_suffix("ies") {
        add(format!("{s}y"));
    } else if let Some(s) = word.strip_suffix("es") {
        add(s.to_owned());
        add(format!("{s}e"));
    } else if let Some(s) = word.strip_suffix('s')
        && !word.ends_with("ss")
        && !word.ends_with("us")
        && !word.ends_with("is")
    {
        add(s.to_owned());
    }
    if let Some(s) = word.strip_suffix("ied") {
        add(format!("{s}y"));
    } else if let Some(s) = word.strip_suffix("ed") {
        add(s.to_owned());
        add(format!("{s}e"));
        if let Some(u) = undouble(s) {
            add(u);
        }
    }
    if let Some(s) = word.strip_suffix("ing") {
        add(s.to_owned());
        add(format!("{s}e"));
        if let Some(u) = undouble(s) {
            add(u);
        }
    }
    out
}

/// The regular inflections of one word, the word itself first. Words shorter than four
/// letters, and words with digits, are left alone.
pub(crate) fn word_forms(word: &str) -> Vec<String> {
    if word.len() < 4 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return vec![word.to_owned()];
    }
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    add(word.to_owned());
    for base in bases(word) {
        let b = base.as_bytes();
        let n = b.len();
        let last = b[n - 1];
        let consonant_y = last == b'y' && !is_vowel(b[n - 2]);
        // plural / third person
        if consonant_y {
            add(format!("{}ies", &base[..n - 1]));
        } else if base.ends_with('s')
            || base.ends_with('x')
            || base.ends_with('z')
            || base.ends_with("ch")
            || base.ends_with("sh")
        {
            add(format!("{base}es"));
        } else {
            add(format!("{base}s"));
        }
        // past and gerund
        if consonant_y {
            add(format!("{}ied", &base[..n - 1]));
            add(format!("{base}ing"));
        } else if last == b'e' {
            add(format!("{base}d"));
            if !base.ends_with("ee") {
                add(format!("{}ing", &base[..n - 1]));
            }
        } else {
            add(format!("{base}ed"));
            add(format!("{base}ing"));
        }
        if doubles(&base) || (last == b'l' && is_vowel(b[n - 2])) {
            let d = last as char;
            add(format!("{base}{d}ed"));
            add(format!("{base}{d}ing"));
        }
        // nouns: cancel → cancellation / cancelation, escalate → escalation
        if last == b'l' {
            add(format!("{base}ation"));
            add(format!("{base}lation"));
        }
        if let Some(s) = base.strip_suffix("ate") {
            add(format!("{s}ation"));
        }
        add(base);
    }
    out
}

/// Every combination of the word forms of a normalised phrase, at most `cap` of them,
/// the phrase itself first.
pub(crate) fn phrase_forms(phrase: &str, cap: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    for word in phrase.split(' ') {
        let forms = word_forms(word);
        let mut next = Vec::with_capacity(out.len() * forms.len());
        for prefix in &out {
            for form in &forms {
                if next.len() >= cap {
                    break;
                }
                next.push(if prefix.is_empty() {
                    form.clone()
                } else {
                    format!("{prefix} {form}")
                });
            }
        }
        out = next;
    }
    out
}

/// True when `a` and `b` differ by at most one insertion, deletion, substitution or
/// swap of two neighbouring characters (ASCII bytes).
pub(crate) fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    match long.len() - short.len() {
        0 => {
            let diffs: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).take(3).collect();
            match diffs.as_slice() {
                [_] => true,
                [i, j] => *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i],
                _ => false,
            }
        }
        1 => {
            let i = short.iter().zip(long).take_while(|(x, y)| x == y).count();
            short[i..] == long[i + 1..]
        }
        _ => false,
    }
}
