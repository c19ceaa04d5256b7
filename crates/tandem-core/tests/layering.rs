//! The modules of `tandem-core` form no import circle (issue 11, acceptance 1): reading
//! the sources, a module that names another (`crate::<module>`, in a `use` or a path)
//! depends on it, and no module depends on itself through others. Test code (`mod tests`
//! behind `#[cfg(test)]`, last in its file as clippy's `items_after_test_module` keeps it;
//! the conformance suite) and comments do not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and the text of its files (a folder module includes its
/// submodules).
fn modules(src: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("reading src/") {
        let path = entry.expect("a src/ entry").path();
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .expect("a utf-8 name")
            .to_owned();
        if name == "lib" {
            continue;
        }
        let text = if path.is_dir() {
            folder_text(&path)
        } else if path.extension().is_some_and(|e| e == "rs") {
            std::fs::read_to_string(&path).expect("reading a module")
        } else {
            continue;
        };
        out.entry(name).or_insert_with(String::new).push_str(&text);
    }
    out
}

fn folder_text(dir: &Path) -> String {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("reading a module folder") {
            let p = entry.expect("an entry").path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with("conformance") || name == "tests.rs" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
        .iter()
        // Each file's own tests are left out (not the rest of the folder after them).
        .map(|p| code(&std::fs::read_to_string(p).expect("reading a module file")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The code of a file: without its `#[cfg(test)] mod tests` and without comments.
fn code(text: &str) -> String {
    let text = text
        .split("\n#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules `text` names: `crate::name` and the names in `crate::{a, b::c}`.
fn named(text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let head: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if known.contains(&head) {
                    out.insert(head);
                }
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if known.contains(&head) {
                out.insert(head);
            }
        }
    }
    out
}

/// A cycle through `start`, if there is one (depth-first search).
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    let mut seen = BTreeSet::new();
    walk(graph, start, start, &mut path, &mut seen).then_some(path)
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(name, text)| {
            let mut deps = named(&code(text), &known);
            deps.remove(name);
            (name.clone(), deps)
        })
        .collect()
}

#[test]
fn no_module_depends_on_itself_through_others() {
    let graph = graph();
    assert!(
        graph.len() > 20,
        "the modules were read: {:?}",
        graph.keys()
    );
    let cycles: Vec<String> = graph
        .keys()
        .filter_map(|m| cycle_through(&graph, m))
        .map(|c| c.join(" -> "))
        .collect();
    assert!(
        cycles.is_empty(),
        "import circles in tandem-core:\n{}",
        cycles.join("\n")
    );
}

/// The reader sees what it must: a use list, a path, a folder module; not a comment.
#[test]
fn the_reader_finds_dependencies() {
    let known: BTreeSet<String> = ["router", "store", "turn", "shape"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let text = code(
        "use crate::{router::Core, store};\nfn f() { crate::turn::plan(); }\n// crate::shape\n",
    );
    let found = named(&text, &known);
    assert_eq!(
        found,
        ["router", "store", "turn"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let mut g = BTreeMap::new();
    g.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    g.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(
        cycle_through(&g, "a"),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
    // The real graph names the router's dependencies.
    assert!(graph()["turn"].contains("router"));
    assert!(names("x.await;", ".await") && !names("p.awaiting", ".await"));
    assert!(names("impl Core {", "Core") && !names("CoreConfig", "Core"));
}

/// The modules `start` depends on, directly or through others, and itself.
fn reach(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([start.to_owned()]);
    let mut stack = vec![start.to_owned()];
    while let Some(at) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
}

/// What the engine may not name: an async runtime or async code, the store, the runtime
/// (`Core`, its executor and workers), a clock read, a thread, logging.
const NOT_IN_THE_ENGINE: &[&str] = &[
    "tokio",
    "futures",
    "async",
    ".await",
    "Store",
    "Core",
    "Clock",
    "now()",
    "now_utc",
    "std::thread",
    "tracing",
];

/// Whether `text` has `word` as a whole word (`.await`, not `.awaiting`).
fn names(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let starts_ident = word.starts_with(ident);
    let ends_ident = word.ends_with(ident);
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        let glued_before = starts_ident && before.is_some_and(ident);
        let glued_after = ends_ident && after.is_some_and(ident);
        !(glued_before || glued_after)
    })
}

/// Issue 11, acceptance 1: the engine (`src/engine/`) and every module it depends on are
/// pure: no async runtime, no store, no clock.
#[test]
fn the_engine_depends_on_no_runtime_no_store_and_no_clock() {
    let graph = graph();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let texts = modules(&src);
    let reached = reach(&graph, "engine");
    for runtime in [
        "store", "router", "executor", "ai", "clock", "outbox", "timers", "turn",
    ] {
        assert!(
            !reached.contains(runtime),
            "the engine depends on `{runtime}` (it reaches {reached:?})"
        );
    }
    let mut found = Vec::new();
    for module in &reached {
        let text = code(&texts[module]);
        for word in NOT_IN_THE_ENGINE {
            if names(&text, word) {
                found.push(format!("{module}: {word}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "the engine (or a module it depends on) names what it may not:\n{}",
        found.join("\n")
    );
    assert!(
        reached.len() >= 4,
        "the engine's modules were read: {reached:?}"
    );
}
