//! The cluster engines' failures, and what each one tells a caller ([`EngineError`]).

use redis::ErrorKind;
use taskhub_engine::EngineError;

/// Why Redis or PostgreSQL could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClusterError {
    /// Redis refused, timed out or is unreachable, for a command that appends nothing (a
    /// read, a ping), or for a publish script that provably never ran ([`Self::script`]).
    #[error("the event log (Redis) is unavailable: {0}")]
    Redis(#[from] redis::RedisError),
    /// The publish script was sent but its reply never came back (the connection broke,
    /// the response timed out): Redis may have appended the events (docs/cluster.md, "A
    /// reply lost in flight").
    #[error("the event log (Redis) did not answer a publish: {0}")]
    ScriptReplyLost(redis::RedisError),
    /// PostgreSQL refused, failed or is unreachable; the transaction did not commit.
    #[error("the task store (PostgreSQL) is unavailable: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// `COMMIT` was sent but PostgreSQL's answer never came back: the change may stand.
    #[error("the task store (PostgreSQL) did not confirm a commit: {0}")]
    CommitUnconfirmed(tokio_postgres::Error),
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
    /// An idempotency key recorded for a different request.
    #[error("the idempotency key was used for a different request")]
    KeyReused,
}

impl ClusterError {
    pub(crate) fn corrupt(what: &'static str, detail: impl ToString) -> Self {
        Self::Corrupt {
            what,
            detail: detail.to_string(),
        }
    }

    /// A failed publish script call. Nothing was appended only when the failure proves
    /// the script never ran: the connection was refused, the client refused to send it,
    /// or Redis answered with an error (it refuses a script before running it, and this
    /// one's first write cannot fail once it runs). Anything else (a broken connection, a
    /// timeout, a reply TaskHub cannot read) came after the script was sent.
    pub(crate) fn script(error: redis::RedisError) -> Self {
        let never_ran = error.is_connection_refusal()
            || matches!(
                error.kind(),
                ErrorKind::Server(_)
                    | ErrorKind::Extension
                    | ErrorKind::Client
                    | ErrorKind::InvalidClientConfig
                    | ErrorKind::AuthenticationFailed
            );
        if never_ran {
            Self::Redis(error)
        } else {
            Self::ScriptReplyLost(error)
        }
    }

    /// A failed `COMMIT`. PostgreSQL answering with an error means it rolled the
    /// transaction back; anything else (the connection closed, an I/O error) leaves the
    /// outcome unknown.
    pub(crate) fn commit(error: tokio_postgres::Error) -> Self {
        if error.as_db_error().is_some() {
            Self::Postgres(error)
        } else {
            Self::CommitUnconfirmed(error)
        }
    }
}

impl From<ClusterError> for EngineError {
    fn from(error: ClusterError) -> Self {
        match error {
            ClusterError::Closed => Self::Closed,
            ClusterError::KeyReused => Self::KeyReused,
            ClusterError::Redis(e) => Self::Unavailable(format!("Redis: {e}")),
            ClusterError::ScriptReplyLost(e) => Self::OutcomeUnknown(format!("Redis: {e}")),
            ClusterError::Postgres(e) => Self::Unavailable(format!("PostgreSQL: {e}")),
            ClusterError::CommitUnconfirmed(e) => Self::OutcomeUnknown(format!("PostgreSQL: {e}")),
            ClusterError::ReaderDown => {
                Self::Unavailable("Redis: this node is not following the stream".into())
            }
            corrupt @ ClusterError::Corrupt { .. } => Self::Corrupt(corrupt.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    fn io_error(kind: io::ErrorKind) -> redis::RedisError {
        io::Error::new(kind, "simulated").into()
    }

    fn engine(error: ClusterError) -> EngineError {
        error.into()
    }

    #[test]
    fn a_publish_whose_reply_was_lost_may_have_been_stored() {
        for kind in [
            io::ErrorKind::TimedOut,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::UnexpectedEof,
        ] {
            let error = engine(ClusterError::script(io_error(kind)));
            assert!(
                matches!(&error, EngineError::OutcomeUnknown(m) if m.starts_with("Redis: ")),
                "{kind:?}: {error:?}"
            );
        }
        let unreadable = redis::RedisError::from((ErrorKind::UnexpectedReturnType, "not an id"));
        assert!(engine(ClusterError::script(unreadable)).may_have_applied());
    }

    #[test]
    fn a_publish_that_never_ran_stored_nothing() {
        let refused = io_error(io::ErrorKind::ConnectionRefused);
        let answered = redis::RedisError::from((
            ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
            "READONLY You can't write against a read only replica.",
        ));
        for error in [refused, answered] {
            let error = engine(ClusterError::script(error));
            assert!(matches!(&error, EngineError::Unavailable(_)), "{error:?}");
        }
    }

    #[test]
    fn reads_and_refusals_store_nothing_and_keep_their_words() {
        let timeout = engine(ClusterError::Redis(io_error(io::ErrorKind::TimedOut)));
        assert!(matches!(timeout, EngineError::Unavailable(_)));
        assert_eq!(
            engine(ClusterError::ReaderDown).to_string(),
            "the event store is unavailable: Redis: this node is not following the stream"
        );
        let corrupt = engine(ClusterError::corrupt("event stream", "entry 5-1"));
        assert!(matches!(corrupt, EngineError::Corrupt(_)));
        assert_eq!(
            corrupt.to_string(),
            "the event store is unavailable: corrupt data in the event stream: entry 5-1"
        );
        assert!(matches!(engine(ClusterError::Closed), EngineError::Closed));
    }
}
