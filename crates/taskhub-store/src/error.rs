//! The SQLite engine's failures, and what each one tells a caller ([`EngineError`]).

use taskhub_engine::EngineError;

/// Why SQLite could not do what was asked. None of these say anything was stored: a
/// failing statement rolls back its savepoint, a failing `COMMIT` its whole group.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SqliteError {
    /// SQLite failed (disk full, I/O error, locked file…).
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The file cannot be opened, locked or migrated, or the writer cannot start.
    #[error("{0}")]
    Unavailable(String),
    /// Less space is free beside the database than the readiness probe asks for
    /// (`space.rs`); only the probe says this, never a write.
    #[error(
        "the disk is nearly full: {available} bytes free on the file system of {path}, \
         less than the {reserve} a ready store keeps free"
    )]
    LowOnSpace {
        path: String,
        available: u64,
        reserve: u64,
    },
    /// A row TaskHub did not write; the message says what is corrupt.
    #[error("{0}")]
    Corrupt(String),
    /// An idempotency key recorded for a different request.
    #[error("the idempotency key was used for a different request")]
    KeyReused,
}

impl From<SqliteError> for EngineError {
    fn from(error: SqliteError) -> Self {
        match error {
            SqliteError::Corrupt(detail) => Self::Corrupt(detail),
            SqliteError::KeyReused => Self::KeyReused,
            other => Self::Unavailable(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_failures_store_nothing_and_corrupt_rows_say_so() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".into()),
        );
        let error = EngineError::from(SqliteError::from(busy));
        assert!(matches!(&error, EngineError::Unavailable(_)), "{error:?}");
        assert_eq!(
            error.to_string(),
            "the event store is unavailable: database is locked"
        );
        let corrupt = EngineError::from(SqliteError::Corrupt("event 3: corrupt type".into()));
        assert!(matches!(corrupt, EngineError::Corrupt(_)));
        assert!(!corrupt.may_have_applied());
    }
}
