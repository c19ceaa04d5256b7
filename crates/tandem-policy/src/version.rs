//! The policy version: a content hash of the normalised file. The parsed TOML is written
//! in a canonical form (keys sorted, no comments or formatting) into SHA-256, so that
//! re-indenting or re-commenting a policy keeps its version while any change of content
//! gives a new one.

use sha2::{Digest, Sha256};

/// `sha256:` and the first 16 hex digits of the canonical content's hash.
pub(crate) fn content_hash(value: &toml::Value) -> String {
    let mut hasher = Sha256::new();
    write(value, &mut hasher);
    let digest = hasher.finalize();
    format!("sha256:{}", &hex::encode(digest)[..16])
}

fn write(value: &toml::Value, h: &mut Sha256) {
    match value {
        toml::Value::String(s) => {
            h.update(b"s");
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        toml::Value::Integer(i) => {
            h.update(b"i");
            h.update(i.to_le_bytes());
        }
        toml::Value::Float(f) => {
            h.update(b"f");
            h.update(f.to_bits().to_le_bytes());
        }
        toml::Value::Boolean(b) => h.update(if *b { b"T" } else { b"F" }),
        toml::Value::Datetime(d) => {
            let s = d.to_string();
            h.update(b"d");
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        toml::Value::Array(a) => {
            h.update(b"[");
            h.update((a.len() as u64).to_le_bytes());
            for v in a {
                write(v, h);
            }
        }
        toml::Value::Table(t) => {
            let mut keys: Vec<&String> = t.keys().collect();
            keys.sort();
            h.update(b"{");
            h.update((keys.len() as u64).to_le_bytes());
            for k in keys {
                h.update((k.len() as u64).to_le_bytes());
                h.update(k.as_bytes());
                write(&t[k.as_str()], h);
            }
        }
    }
}
