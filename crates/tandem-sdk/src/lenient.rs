//! Per-event parsing of platform batches. A webhook body often carries several events
//! (Meta's `entry[].messaging[]`, WhatsApp's `messages[]`); one the adapter cannot read
//! must not lose the others, and must not make the route answer 4xx (the platform would
//! redeliver the same batch forever). Parse the envelope loosely (`Vec<Value>`), then
//! each event with [`event`]; what fails is kept as an unsupported event with a stable id
//! from [`derived_id`].

use serde::Deserialize as _;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why one event could not be read: serde's category and position only, never the
/// payload (serde's messages quote values, which may be personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unparsable {
    /// `syntax`, `data` (a field of an unexpected type) or `eof`.
    pub category: &'static str,
    /// A stable id of the event (see [`derived_id`]), for the record and its dedupe.
    pub id: String,
}

impl std::fmt::Display for Unparsable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unreadable event ({} error), kept as {}",
            self.category, self.id
        )
    }
}

/// Reads one event of a batch as `T`.
pub fn event<T: DeserializeOwned>(value: &Value) -> Result<T, Unparsable> {
    T::deserialize(value).map_err(|e| Unparsable {
        category: match e.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        },
        id: derived_id(value),
    })
}

/// A stable id for an event that has none Tandem could read: a digest of its JSON
/// (`derived:<32 hex>`), so a redelivery deduplicates.
pub fn derived_id(value: &Value) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    derived_id_of(&bytes)
}

/// [`derived_id`] over raw bytes.
pub fn derived_id_of(bytes: &[u8]) -> String {
    let digest = crate::signature::hmac_sha256_hex(b"tandem-derived-event-id", &[bytes]);
    format!("derived:{}", &digest[..32])
}

/// The string at `path` (object keys) in `value`, also when the platform sent a number.
pub fn str_at(value: &Value, path: &[&str]) -> Option<String> {
    let mut v = value;
    for key in path {
        v = v.get(key)?;
    }
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Deserializes a string field that a platform (or a tool relaying it) may send as a
/// number, as its decimal text; any other shape is the empty string (use with
/// `#[serde(default, deserialize_with = "...")]`).
pub fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

/// Deserializes an optional id a platform sends as a number or as a string of digits
/// (Chatwoot does both); anything else is `None` (use with
/// `#[serde(default, deserialize_with = "...")]`).
pub fn id_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Deserializes a field that may be `null`, absent or of an unexpected shape as its
/// default (use with `#[serde(default, deserialize_with = "...")]`).
pub fn or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let value = Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(default)]
    struct Msg {
        id: String,
        #[serde(deserialize_with = "or_default")]
        n: Vec<u32>,
    }

    #[test]
    fn a_bad_event_is_named_without_its_content_and_others_parse() {
        let batch: Vec<Value> = serde_json::from_str(
            r#"[{"id":"a","n":[1]},{"id":{"secret":"+4915112345678"}},{"id":"c","n":null}]"#,
        )
        .unwrap();
        let out: Vec<Result<Msg, Unparsable>> = batch.iter().map(event).collect();
        assert_eq!(out[0].as_ref().unwrap().id, "a");
        let bad = out[1].as_ref().unwrap_err();
        assert_eq!(bad.category, "data");
        assert!(bad.id.starts_with("derived:"));
        assert!(!bad.to_string().contains("4915"));
        assert_eq!(bad.id, derived_id(&batch[1]), "stable across redeliveries");
        let c = out[2].as_ref().unwrap();
        assert_eq!((c.id.as_str(), c.n.len()), ("c", 0), "null is the default");
    }

    #[test]
    fn ids_are_read_from_numbers_and_strings() {
        #[derive(serde::Deserialize)]
        struct Id {
            #[serde(default, deserialize_with = "id_number")]
            id: Option<u64>,
        }
        let id = |json: &str| serde_json::from_str::<Id>(json).unwrap().id;
        assert_eq!(id(r#"{"id": 7}"#), Some(7));
        assert_eq!(id(r#"{"id": "7"}"#), Some(7));
        assert_eq!(id(r#"{"id": "x"}"#), None);
        assert_eq!(id(r#"{"id": null}"#), None);
        assert_eq!(id("{}"), None);
    }

    #[test]
    fn strings_are_read_from_strings_and_numbers() {
        let v: Value = serde_json::json!({"a": {"b": 42}, "c": "x", "d": ""});
        assert_eq!(str_at(&v, &["a", "b"]).as_deref(), Some("42"));
        assert_eq!(str_at(&v, &["c"]).as_deref(), Some("x"));
        assert_eq!(str_at(&v, &["d"]), None);
        assert_eq!(str_at(&v, &["z"]), None);
    }
}
