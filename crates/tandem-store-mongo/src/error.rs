//! Classification of driver errors into [`StoreError`] kinds.
//!
//! - Duplicate keys (server code 11000, in a write error, a command error or any write
//!   error of an `insertMany`) are [`StoreError::Conflict`]: a unique index refused the
//!   write, exactly the "duplicate key" case of the store contract.
//! - BSON that cannot be read is [`StoreError::Corrupt`].
//! - Everything else (server selection, I/O, pool cleared, authentication, timeouts,
//!   other server errors) is [`StoreError::Unavailable`]: callers answer 5xx and retry.

use mongodb::error::{Error, ErrorKind, TRANSIENT_TRANSACTION_ERROR, WriteFailure};
use tandem_core::store::StoreError;

/// The server's duplicate key error code.
pub(crate) const DUPLICATE_KEY: i32 = 11000;

/// How often a write racing with concurrent writers of the same key (a duplicate key) is
/// retried.
pub(crate) const RACE_RETRIES: usize = 5;

/// Maps a driver error to the store's error kinds.
pub(crate) fn classify(e: Error) -> StoreError {
    if is_duplicate_key(&e) {
        return StoreError::Conflict(format!("duplicate key: {}", short(&e)));
    }
    match e.kind.as_ref() {
        ErrorKind::Bson(_) | ErrorKind::BsonDeserialization(_) => {
            StoreError::Corrupt(format!("unreadable BSON: {}", short(&e)))
        }
        _ => StoreError::Unavailable(short(&e)),
    }
}

/// Whether a unique index refused the write.
pub(crate) fn is_duplicate_key(e: &Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .is_some_and(|errors| errors.iter().any(|w| w.code == DUPLICATE_KEY)),
        _ => false,
    }
}

/// Whether an unordered `insertMany` failed only because some documents already exist
/// (re-applying a journal): every write error is a duplicate key and the write concern
/// was met.
pub(crate) fn only_duplicates(e: &Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::InsertMany(m) => {
            m.write_concern_error.is_none()
                && m.write_errors
                    .as_ref()
                    .is_some_and(|errors| errors.iter().all(|w| w.code == DUPLICATE_KEY))
        }
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// Whether a transaction failed in a way that succeeds when the whole transaction is
/// retried (write conflicts, elections).
pub(crate) fn is_transient_transaction_error(e: &Error) -> bool {
    e.contains_label(TRANSIENT_TRANSACTION_ERROR)
}

/// The error's kind as text, without the server response dump of `Error`'s `Display`.
fn short(e: &Error) -> String {
    e.kind.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use mongodb::error::{CommandError, InsertManyError, WriteError};

    fn write_error(code: i32) -> Error {
        let w: WriteError = bson::deserialize_from_document(
            doc! { "code": code, "errmsg": format!("server error {code}") },
        )
        .expect("a write error from its server shape");
        Error::from(ErrorKind::Write(WriteFailure::WriteError(w)))
    }

    fn command_error(code: i32) -> Error {
        let c: CommandError = bson::deserialize_from_document(
            doc! { "code": code, "codeName": "X", "errmsg": "command failed" },
        )
        .expect("a command error from its server shape");
        Error::from(ErrorKind::Command(c))
    }

    fn insert_many_error(codes: &[i32]) -> Error {
        let errors: Vec<bson::Document> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| doc! { "index": i as i32, "code": *c, "errmsg": "x" })
            .collect();
        let m: InsertManyError = bson::deserialize_from_document(doc! { "writeErrors": errors })
            .expect("an insertMany error from its server shape");
        Error::from(ErrorKind::InsertMany(m))
    }

    #[test]
    fn duplicate_keys_are_conflicts() {
        for e in [
            write_error(11000),
            command_error(11000),
            insert_many_error(&[11000]),
            insert_many_error(&[11000, 121]),
        ] {
            assert!(is_duplicate_key(&e), "{e:?}");
            assert!(matches!(classify(e), StoreError::Conflict(_)));
        }
    }

    #[test]
    fn other_server_errors_are_unavailable() {
        // 121: document validation failure; 112: write conflict; 13: unauthorized.
        for e in [write_error(121), command_error(112), command_error(13)] {
            assert!(!is_duplicate_key(&e));
            assert!(matches!(classify(e), StoreError::Unavailable(_)));
        }
    }

    #[test]
    fn network_errors_are_unavailable() {
        let refused = Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(matches!(classify(refused), StoreError::Unavailable(_)));
        let reset = Error::from(ErrorKind::Io(std::sync::Arc::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        ))));
        assert!(matches!(classify(reset), StoreError::Unavailable(_)));
        assert!(matches!(
            classify(Error::from(ErrorKind::Shutdown)),
            StoreError::Unavailable(_)
        ));
    }

    #[test]
    fn unreadable_bson_is_corrupt() {
        let bad = bson::deserialize_from_document::<String>(doc! { "a": 1 })
            .expect_err("a document is not a string");
        let e = Error::from(ErrorKind::Bson(bad));
        assert!(matches!(classify(e), StoreError::Corrupt(_)));
    }

    #[test]
    fn only_duplicates_tells_reapplied_inserts_from_real_failures() {
        assert!(only_duplicates(&insert_many_error(&[11000, 11000])));
        assert!(!only_duplicates(&insert_many_error(&[11000, 121])));
        assert!(!only_duplicates(&command_error(11000)));
        assert!(only_duplicates(&write_error(11000)));
    }

    #[test]
    fn unlabelled_errors_are_not_transient() {
        assert!(!is_transient_transaction_error(&command_error(112)));
    }
}
