//! The store's error type.

/// Why the store could not do what was asked. None of these say anything was stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed (disk full, I/O error, locked file, corrupt row…).
    #[error("the event store is unavailable: {0}")]
    Unavailable(String),
    /// The store is shutting down or its writer has stopped.
    #[error("the event store is closed")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}
