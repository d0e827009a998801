//! [`EngineError`]: how an engine request fails, said the same way by every engine.

/// Why an engine could not do what was asked, and what the caller may assume about it.
///
/// The messages keep the words clients have always read ("the event store is
/// unavailable…") whichever engine failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine refused the request or could not be reached: nothing was applied.
    #[error("the event store is unavailable: {0}")]
    Unavailable(String),
    /// The request reached the engine but its answer never came back (a reply lost with
    /// its connection, a timeout, a `COMMIT` left unconfirmed): it may have been applied.
    #[error("the event store did not confirm the write: {0}")]
    OutcomeUnknown(String),
    /// Stored data the engine cannot read back (a row or entry TaskHub did not write); the
    /// message says what is corrupt.
    #[error("the event store is unavailable: {0}")]
    Corrupt(String),
    /// The engine is shutting down, or its writer has stopped: nothing was applied.
    #[error("the event store is closed")]
    Closed,
    /// The write's idempotency key was used before for a different request: nothing was
    /// applied.
    #[error("this Idempotency-Key was already used for a different request")]
    KeyReused,
}

impl EngineError {
    /// Whether the failed request may nonetheless have been applied (a publisher that
    /// retries may then store its event twice).
    pub fn may_have_applied(&self) -> bool {
        matches!(self, Self::OutcomeUnknown(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unknown_outcome_may_have_applied_the_request() {
        assert!(EngineError::OutcomeUnknown("reply lost".into()).may_have_applied());
        for nothing_applied in [
            EngineError::Unavailable("refused".into()),
            EngineError::Corrupt("row 3".into()),
            EngineError::Closed,
            EngineError::KeyReused,
        ] {
            assert!(!nothing_applied.may_have_applied(), "{nothing_applied}");
        }
    }

    #[test]
    fn messages_keep_the_words_clients_know() {
        assert_eq!(
            EngineError::Unavailable("Redis: connection refused".into()).to_string(),
            "the event store is unavailable: Redis: connection refused"
        );
        assert_eq!(EngineError::Closed.to_string(), "the event store is closed");
    }
}
