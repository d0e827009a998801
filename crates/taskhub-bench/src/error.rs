//! The benchmark's typed errors: everything that can go wrong below `main`.

use std::io;

/// What went wrong while driving a server or a worker.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("I/O error while {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("bad URL {url:?}: {reason}")]
    Url { url: String, reason: &'static str },
    #[error("malformed HTTP response: {0}")]
    Http(String),
    #[error("HTTP {status} from {what}")]
    Status { status: u16, what: String },
    #[error("timed out after {secs:.1} s while {what}")]
    Timeout { secs: f64, what: String },
    #[error("server {server} could not start: {reason}")]
    Start { server: String, reason: String },
    #[error("worker protocol error: {0}")]
    Worker(String),
    #[error("JSON error while {context}: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid setting: {0}")]
    Config(String),
}

impl BenchError {
    /// Wraps an I/O error with what we were doing.
    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }

    /// Wraps a JSON error with what we were doing.
    pub fn json(context: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Self {
        let context = context.into();
        move |source| Self::Json { context, source }
    }
}
