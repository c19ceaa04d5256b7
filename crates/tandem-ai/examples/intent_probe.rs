//! Prints the built-in classifier's top intents for each line of standard input.
//!
//! `echo "where is my order?" | cargo run -p tandem-ai --example intent_probe`
use std::io::BufRead;

fn main() {
    let model = tandem_ai::IntentModel::builtin();
    for line in std::io::stdin().lock().lines() {
        let Ok(text) = line else { break };
        let mut probs = model.probabilities(&text);
        probs.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<String> = probs
            .iter()
            .take(3)
            .map(|(i, p)| format!("{i} {p:.2}"))
            .collect();
        let signal = model.classify(&text);
        println!(
            "{text}\n    {} | act {:?} negated {}",
            top.join(", "),
            signal.act,
            signal.negated
        );
    }
}
