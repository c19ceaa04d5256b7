//! `docs/ADAPTERS.md` quotes the echo channel and echo desk: every block marked
//! `<!-- quoted from <path> -->` must appear verbatim in that file, so the tutorial shows
//! exactly what CI builds and tests.

use std::path::Path;

/// The quoted blocks of `markdown`: (path, block text).
fn quotes(markdown: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .trim()
            .strip_prefix("<!-- quoted from ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(
            fence.starts_with("```"),
            "a code block follows the marker for {path}"
        );
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        found.push((path.to_owned(), block.join("\n")));
    }
    found
}

#[test]
fn tutorial_quotes_the_examples_verbatim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root");
    let tutorial =
        std::fs::read_to_string(root.join("docs/ADAPTERS.md")).expect("docs/ADAPTERS.md");
    let quotes = quotes(&tutorial);
    assert!(
        quotes.len() >= 12,
        "the tutorial quotes the examples: {} blocks",
        quotes.len()
    );
    for wanted in [
        "examples/echo-channel/src/lib.rs",
        "examples/echo-channel/tests/conformance.rs",
        "examples/echo-desk/src/lib.rs",
        "examples/echo-desk/tests/conformance.rs",
    ] {
        assert!(
            quotes.iter().any(|(path, _)| path == wanted),
            "the tutorial quotes {wanted}"
        );
    }
    for (path, block) in &quotes {
        let source = std::fs::read_to_string(root.join(path))
            .unwrap_or_else(|e| panic!("the tutorial quotes {path}, which cannot be read: {e}"));
        assert!(
            source.contains(block.as_str()),
            "docs/ADAPTERS.md quotes {path}, but this block is not in it any more \
             (update the tutorial):\n{block}"
        );
    }
}

#[test]
fn quotes_are_found_and_compared() {
    let md = "text\n<!-- quoted from a.rs -->\n```rust\nfn a() {}\n```\nmore\n";
    assert_eq!(
        quotes(md),
        vec![("a.rs".to_owned(), "fn a() {}".to_owned())]
    );
}
