//! Shared pieces of the inbound parsers' fuzz targets (proptest; cargo-fuzz needs a
//! nightly compiler). Each adapter's fuzz tests run [`cases`] inputs: 256 in the normal
//! test run (a smoke run), `TANDEM_FUZZ_CASES=1000000` for the long runs recorded in
//! `docs/SECURITY.md`.

use proptest::prelude::*;

/// Inputs per fuzz target: `TANDEM_FUZZ_CASES`, default 256.
pub fn cases() -> u32 {
    std::env::var("TANDEM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// The proptest config of a fuzz target: [`cases`] inputs, no failure files.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Arbitrary JSON whose object keys are mostly drawn from `keys` (the fields a parser
/// reads), so inputs get past the first `match` of the parser under test.
pub fn json_with_keys(keys: &'static [&'static str]) -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        proptest::sample::select(keys).prop_map(serde_json::Value::from),
        ".{0,16}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    4 => proptest::sample::select(keys).prop_map(str::to_owned),
                    1 => "[a-z_]{1,8}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `seed` (a recorded payload) with a few bytes flipped, dropped or inserted.
pub fn mutated(seed: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..8).prop_map(
        move |edits| {
            let mut bytes = seed.to_vec();
            for (at, byte, op) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => {
                        bytes.remove(i);
                    }
                    _ => bytes.insert(i, byte),
                }
            }
            bytes
        },
    )
}
