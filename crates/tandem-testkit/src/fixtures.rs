//! Data-driven fixture snapshots: every recorded (scrubbed) platform payload in
//! `tests/fixtures/inbound/*.json` goes through the adapter's inbound path, and what the
//! adapter handed over (messages, delivery reports, reachability reports) plus the HTTP
//! status is compared with `<name>.expected` next to it.
//!
//! A missing snapshot is written (and the test passes, saying so); `UPDATE_EXPECT=1`
//! rewrites every snapshot. Adding a platform event type means adding a fixture, not a
//! test function.

use crate::driver::{ChannelDriver, Harness};
use crate::recording::RecordingInbound;
use serde_json::json;
use std::path::Path;

/// Runs every `*.json` under `dir` through a fresh channel built by `D`'s factory and
/// compares the outcome with the `.expected` snapshots.
pub async fn check<D: ChannelDriver>(dir: impl AsRef<Path>) {
    let dir = dir.as_ref();
    let files = json_files(dir);
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    let update = std::env::var("UPDATE_EXPECT").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for file in &files {
        let body =
            std::fs::read(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let actual = outcome::<D>(body).await;
        let expected_path = file.with_extension("expected");
        match std::fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(_) if update => write(&expected_path, &actual),
            Ok(expected) => failures.push(format!(
                "{} differs from its snapshot (UPDATE_EXPECT=1 rewrites it):\n{}",
                file.display(),
                first_difference(&expected, &actual)
            )),
            Err(_) => {
                eprintln!("writing missing snapshot {}", expected_path.display());
                write(&expected_path, &actual);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The `*.json` files in `dir`, sorted.
fn json_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading fixtures in {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// What the adapter made of one payload, as pretty JSON.
async fn outcome<D: ChannelDriver>(body: Vec<u8>) -> String {
    let h = Harness::<D>::start_with(RecordingInbound::new(), false).await;
    let (status, _) = h.call(h.driver.inbound_raw(body)).await;
    let reachability: Vec<_> = h
        .inbound
        .reachability_reports()
        .into_iter()
        .map(
            |r| json!({"channel": r.channel, "subject": r.subject, "reachability": r.reachability}),
        )
        .collect();
    // Events the platform does not date (Telegram queries, poll answers) carry the
    // receive time: shown as such, so snapshots do not change with the clock.
    let today = tandem_sdk::model::now().date().to_string();
    let mut accepted = serde_json::to_value(h.inbound.accepted()).unwrap_or_default();
    for m in accepted.as_array_mut().into_iter().flatten() {
        if m["sent_at"].as_str().is_some_and(|t| t.starts_with(&today)) {
            m["sent_at"] = json!("<receive time>");
        }
    }
    let doc = json!({
        "status": status.as_u16(),
        "accepted": accepted,
        "deliveries": h.inbound.deliveries(),
        "reachability": reachability,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn first_difference(expected: &str, actual: &str) -> String {
    for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return format!("line {}:\n- {e}\n+ {a}", i + 1);
        }
    }
    format!(
        "lengths differ: {} expected lines, {} actual",
        expected.lines().count(),
        actual.lines().count()
    )
}

/// Expands to a `#[tokio::test]` checking every fixture in `tests/fixtures/inbound` (or
/// the given folder, relative to the adapter crate) against its snapshot.
#[macro_export]
macro_rules! check_inbound_fixtures {
    ($driver:ty) => {
        $crate::check_inbound_fixtures!($driver, "tests/fixtures/inbound");
    };
    ($driver:ty, $dir:literal) => {
        #[::tokio::test]
        async fn inbound_fixtures_match_snapshots() {
            $crate::fixtures::check::<$driver>(
                ::std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join($dir),
            )
            .await;
        }
    };
}

/// The bodies of every `*.json` fixture under `dir`, with their file names, sorted.
pub fn bodies(dir: impl AsRef<Path>) -> Vec<(String, serde_json::Value)> {
    json_files(dir.as_ref())
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                value,
            )
        })
        .collect()
}

/// Adds fields no platform defines (`zz_unknown_<n>`, named to sort after every real
/// key) to objects of `value`: each addition `(which, n, field)` goes to the
/// `which % count`-th object in document order. For property tests: unknown fields must
/// never change what an adapter makes of the known ones.
pub fn add_unknown_fields(
    value: &mut serde_json::Value,
    additions: &[(u32, u16, serde_json::Value)],
) {
    fn count(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::Object(m) => 1 + m.values().map(count).sum::<usize>(),
            serde_json::Value::Array(a) => a.iter().map(count).sum(),
            _ => 0,
        }
    }
    fn insert(
        v: &mut serde_json::Value,
        target: &mut usize,
        key: &str,
        field: &serde_json::Value,
    ) -> bool {
        match v {
            serde_json::Value::Object(m) => {
                if *target == 0 {
                    m.insert(key.to_owned(), field.clone());
                    return true;
                }
                *target -= 1;
                m.values_mut().any(|c| insert(c, target, key, field))
            }
            serde_json::Value::Array(a) => a.iter_mut().any(|c| insert(c, target, key, field)),
            _ => false,
        }
    }
    for (which, n, field) in additions {
        let objects = count(value);
        if objects == 0 {
            return;
        }
        let mut target = *which as usize % objects;
        insert(value, &mut target, &format!("zz_unknown_{n}"), field);
    }
}

/// `text` with every derived id (`derived:<hex>`, a digest of the event's own bytes,
/// which unknown fields change by design) replaced by `derived:*`.
pub fn mask_derived_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("derived:") {
        out.push_str(&rest[..i + "derived:".len()]);
        out.push('*');
        rest = rest[i + "derived:".len()..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out.push_str(rest);
    out
}

/// The property behind every adapter's `unknown_fields_never_change_the_parse_of_known_ones`:
/// for each fixture under `dir` (but those named `*unparsable*`, which have nothing known),
/// `read(original, body)` of the body with `additions` (see [`add_unknown_fields`]) equals
/// that of the original body. `read` renders what the adapter made of `body` (derived
/// ids are masked here); `original` lets it mask what legitimately differs (a receive
/// time). The first difference, with the fixture's name.
pub fn unknown_fields_keep_the_parse(
    dir: impl AsRef<Path>,
    additions: &[(u32, u16, serde_json::Value)],
    read: impl Fn(&serde_json::Value, &serde_json::Value) -> String,
) -> Result<(), String> {
    for (name, body) in bodies(dir) {
        if name.contains("unparsable") {
            continue;
        }
        let mut mutated = body.clone();
        add_unknown_fields(&mut mutated, additions);
        let before = mask_derived_ids(&read(&body, &body));
        let after = mask_derived_ids(&read(&body, &mutated));
        if before != after {
            return Err(format!("{name}:\n- {before}\n+ {after}"));
        }
    }
    Ok(())
}
