//! The cluster backends' error type.

use taskhub_store::StoreError;

/// Why Redis or PostgreSQL could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// Redis refused, timed out or is unreachable. Nothing was appended, unless a reply was
    /// lost after the script ran (see docs/cluster.md).
    #[error("the event log (Redis) is unavailable: {0}")]
    Redis(#[from] redis::RedisError),
    /// PostgreSQL refused, failed or is unreachable; the transaction did not commit.
    #[error("the task store (PostgreSQL) is unavailable: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The event log's reader is not following the stream (Redis is down or it is
    /// reconnecting).
    #[error("the event log (Redis) is unavailable: this node is not following the stream")]
    ReaderDown,
    /// A stream entry or a row that TaskHub did not write, or a reply of the wrong shape.
    #[error("corrupt data in the {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// The node is shutting down.
    #[error("the cluster backend is closed")]
    Closed,
}

impl ClusterError {
    pub(crate) fn corrupt(what: &'static str, detail: impl ToString) -> Self {
        Self::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }
}

impl From<ClusterError> for StoreError {
    /// The server answers every backend failure the same way: 503, nothing stored.
    fn from(error: ClusterError) -> Self {
        match error {
            ClusterError::Closed => StoreError::Closed,
            ClusterError::Redis(e) => StoreError::Unavailable(format!("Redis: {e}")),
            ClusterError::Postgres(e) => StoreError::Unavailable(format!("PostgreSQL: {e}")),
            ClusterError::ReaderDown => {
                StoreError::Unavailable("Redis: this node is not following the stream".into())
            }
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}
