//! The intent index: TF-IDF vectors of the training phrases, scored against a message by
//! cosine similarity.
//!
//! Why TF-IDF cosine and not BM25: messages and phrases are a handful of words, so BM25's
//! length normalisation and term saturation buy little, while cosine similarity is bounded
//! in [0, 1] and is exactly 1 for a message with the same terms as a training phrase.
//! That makes the score usable as a confidence directly, with a threshold that means the
//! same thing for every knowledge base. BM25 scores are unbounded and would need an
//! ad-hoc normalisation to become a confidence.
//!
//! Details:
//! * IDF is computed over *intents* (a term's document frequency is the number of intents
//!   whose phrases use it), so a word repeated across one intent's phrases ("order" in
//!   `order_status`) stays characteristic instead of being penalised;
//!   `idf = ln((N + 1) / (df + 1)) + 1`.
//! * Term frequency is sublinear (`1 + ln tf`); phrase vectors are L2-normalised at build
//!   time and stored in posting lists, so a message costs one pass over the postings of
//!   its own terms.
//! * Words the knowledge base has never seen still count in the message's norm with the
//!   weight of the rarest term: a message about something else ("the weather on mars")
//!   scores low even if it shares a word with a phrase.
//! * Typos: a message term of at least [`TYPO_MIN_LEN`] characters that is not in the
//!   vocabulary is matched to a vocabulary term within one edit (insertion, deletion,
//!   substitution or adjacent swap), at [`TYPO_PENALTY`] of its weight.
//! * An intent's confidence is its best phrase's cosine.

use crate::text;
use std::collections::HashMap;

/// Minimum length (in bytes, of the stem) for typo-tolerant matching.
pub(crate) const TYPO_MIN_LEN: usize = 5;
/// Weight factor of a term matched through a typo.
pub(crate) const TYPO_PENALTY: f32 = 0.8;

/// Precomputed TF-IDF index over the phrases of every intent.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    vocab: HashMap<String, u32>,
    /// Vocabulary terms long enough for typo matching, with their ids.
    long_terms: Vec<(String, u32)>,
    idf: Vec<f32>,
    /// Per term: (phrase, weight of the term in the phrase's normalised vector).
    postings: Vec<Vec<(u32, f32)>>,
    /// Per phrase: its intent.
    phrase_intent: Vec<u32>,
    intents: usize,
    /// IDF of a term no intent uses.
    unknown_idf: f32,
}

/// Sublinear term frequency.
fn tf_weight(count: u32) -> f32 {
    1.0 + (count as f32).ln()
}

/// Counts each distinct item: (item, count), in first-seen order.
fn counts<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<(T, u32)> {
    let mut out: Vec<(T, u32)> = Vec::new();
    for item in items {
        match out.iter_mut().find(|(seen, _)| *seen == item) {
            Some((_, n)) => *n += 1,
            None => out.push((item, 1)),
        }
    }
    out
}

impl Index {
    /// Builds the index; `phrases[i]` are the training phrases of intent `i`.
    pub(crate) fn build(phrases: &[Vec<String>]) -> Self {
        let intents = phrases.len();
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        let mut phrase_terms: Vec<(u32, Vec<(u32, u32)>)> = Vec::new();
        for (intent, list) in phrases.iter().enumerate() {
            let mut seen_in_intent: Vec<u32> = Vec::new();
            for phrase in list {
                let ids = text::terms(phrase).into_iter().map(|term| {
                    let next = vocab.len() as u32;
                    *vocab.entry(term).or_insert(next)
                });
                let tf = counts(ids.collect::<Vec<_>>());
                for &(id, _) in &tf {
                    if df.len() <= id as usize {
                        df.resize(id as usize + 1, 0);
                    }
                    if !seen_in_intent.contains(&id) {
                        seen_in_intent.push(id);
                        df[id as usize] += 1;
                    }
                }
                phrase_terms.push((intent as u32, tf));
            }
        }
        let n = intents as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((n + 1.0) / (d as f32 + 1.0)).ln() + 1.0)
            .collect();
        let mut postings = vec![Vec::new(); vocab.len()];
        let mut phrase_intent = Vec::with_capacity(phrase_terms.len());
        for (p, (intent, tf)) in phrase_terms.iter().enumerate() {
            let weights: Vec<f32> = tf
                .iter()
                .map(|&(id, c)| tf_weight(c) * idf[id as usize])
                .collect();
            let norm = weights.iter().map(|w| w * w).sum::<f32>().sqrt();
            for (&(id, _), w) in tf.iter().zip(&weights) {
                if norm > 0.0 {
                    postings[id as usize].push((p as u32, w / norm));
                }
            }
            phrase_intent.push(*intent);
        }
        let mut long_terms: Vec<(String, u32)> = vocab
            .iter()
            .filter(|(t, _)| t.len() >= TYPO_MIN_LEN)
            .map(|(t, &id)| (t.clone(), id))
            .collect();
        long_terms.sort_by_key(|&(_, id)| id);
        Index {
            vocab,
            long_terms,
            idf,
            postings,
            phrase_intent,
            intents,
            unknown_idf: (n + 1.0).ln() + 1.0,
        }
    }

    /// The id of `term`, directly or through a one-edit typo (then `typo` is true).
    fn lookup(&self, term: &str) -> Option<(u32, bool)> {
        if let Some(&id) = self.vocab.get(term) {
            return Some((id, false));
        }
        if term.len() < TYPO_MIN_LEN {
            return None;
        }
        self.long_terms
            .iter()
            .find(|(t, _)| text::within_one_edit(t, term))
            .map(|&(_, id)| (id, true))
    }

    /// The confidence of every intent for `message`, in [0, 1], indexed like the
    /// phrases given to [`Index::build`]. All zero when the message has no terms.
    pub(crate) fn score(&self, message: &str) -> Vec<f32> {
        let mut scores = vec![0.0f32; self.intents];
        let terms = text::terms(message);
        let mut norm_sq = 0.0f32;
        let mut known: Vec<(u32, f32)> = Vec::new();
        for (term, count) in counts(terms.iter().map(String::as_str)) {
            match self.lookup(term) {
                Some((id, typo)) => {
                    let factor = if typo { TYPO_PENALTY } else { 1.0 };
                    let w = tf_weight(count) * self.idf[id as usize] * factor;
                    norm_sq += w * w;
                    match known.iter_mut().find(|(k, _)| *k == id) {
                        Some((_, acc)) => *acc += w,
                        None => known.push((id, w)),
                    }
                }
                None => norm_sq += (tf_weight(count) * self.unknown_idf).powi(2),
            }
        }
        if known.is_empty() || norm_sq <= 0.0 {
            return scores;
        }
        let mut dots = vec![0.0f32; self.phrase_intent.len()];
        for &(id, w) in &known {
            for &(phrase, pw) in &self.postings[id as usize] {
                dots[phrase as usize] += w * pw;
            }
        }
        let norm = norm_sq.sqrt();
        for (phrase, dot) in dots.into_iter().enumerate() {
            let intent = self.phrase_intent[phrase] as usize;
            scores[intent] = scores[intent].max((dot / norm).clamp(0.0, 1.0));
        }
        scores
    }
}
