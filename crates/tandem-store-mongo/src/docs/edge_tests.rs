//! Edge cases of the document conversions: unreadable or newer documents are
//! `Corrupt`, timestamps keep milliseconds on both sides of the epoch, and the per-turn
//! order keys follow commit order. No server.

use super::conversations::ConversationDoc;
use super::inbound::InboundDoc;
use super::tests::{all_contents, conversation, entry, t};
use super::transcript::TranscriptDoc;
use super::*;
use bson::{Bson, doc};
use std::time::Duration;

#[test]
fn unreadable_documents_are_corrupt() {
    let record = conversation();
    let good = encode(
        "conversation",
        &ConversationDoc::from_record(&record).expect("doc"),
    )
    .expect("encode");

    let mut newer = good.clone();
    newer.insert("schema_version", SCHEMA_VERSION + 1);
    let doc: ConversationDoc = decode("conversation", newer).expect("decodes");
    assert!(
        matches!(doc.into_record(), Err(StoreError::Corrupt(_))),
        "newer schema"
    );

    let mut negative = good.clone();
    negative.insert("version", -1_i64);
    let doc: ConversationDoc = decode("conversation", negative).expect("decodes");
    assert!(
        matches!(doc.into_record(), Err(StoreError::Corrupt(_))),
        "negative counter"
    );

    for (field, value) in [
        ("status", Bson::from("archived")),
        ("state", Bson::from("not a document")),
        ("opened_at", Bson::from("2024-01-01")),
        ("schema_version", Bson::Null),
    ] {
        let mut bad = good.clone();
        bad.insert(field, value);
        assert!(
            matches!(
                decode::<ConversationDoc>("conversation", bad),
                Err(StoreError::Corrupt(_))
            ),
            "bad `{field}` must be Corrupt"
        );
    }
    let mut missing = good;
    missing.remove("customer_id");
    assert!(matches!(
        decode::<ConversationDoc>("conversation", missing),
        Err(StoreError::Corrupt(_))
    ));

    let mut content = encode(
        "transcript",
        &TranscriptDoc::new(&entry(&record, 0, all_contents().remove(0))).expect("doc"),
    )
    .expect("encode");
    content.insert("content", doc! { "type": "hologram" });
    assert!(matches!(
        decode::<TranscriptDoc>("transcript entry", content),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        InboundDoc::seq_of(&doc! { "_id": "seven" }),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn timestamps_keep_milliseconds_on_both_sides_of_the_epoch() {
    for ms in [0_i64, 1, -1, 1_700_000_000_123, -86_400_000 * 365 * 50 - 7] {
        let ts = Timestamp::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).expect("ts");
        assert_eq!(to_datetime(ts).timestamp_millis(), ms);
        assert_eq!(from_datetime(to_datetime(ts)).expect("back"), ts);
    }
    let with_micros = t(0) + Duration::from_micros(999);
    assert_eq!(
        from_datetime(to_datetime(with_micros)).expect("back"),
        t(0),
        "truncated"
    );
}

#[test]
fn turn_order_keys_follow_commit_order() {
    let keys: Vec<i64> = [(0, 0), (0, 1), (0, 9), (1, 0), (1, 1), (42, 0)]
        .iter()
        .map(|&(v, p)| turn_ord(v, p).expect("key"))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    assert!(
        turn_ord(0, 1 << 20).is_err(),
        "too many entries in one turn"
    );
    assert!(
        turn_ord(u64::MAX / 2, 0).is_err(),
        "version beyond the key range"
    );
}
