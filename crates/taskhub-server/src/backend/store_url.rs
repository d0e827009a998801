//! `--database-url`: which engine holds the tasks (and, on one node, the events).

use std::fmt;
use std::str::FromStr;

use taskhub_cluster::{ParsePostgresUrlError, PostgresUrl};
use taskhub_store::{DatabaseUrl, ParseDatabaseUrlError};

/// Where the tasks (and, with SQLite, the events) live: `--database-url`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite://FILE`: the embedded store of a single node.
    Sqlite(DatabaseUrl),
    /// `postgres://…`: the tasks of a cluster (events then live in Redis).
    Postgres(PostgresUrl),
}

/// Why a `--database-url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseStoreUrlError {
    #[error(transparent)]
    Sqlite(#[from] ParseDatabaseUrlError),
    #[error(transparent)]
    Postgres(#[from] ParsePostgresUrlError),
    #[error(
        "unsupported database scheme `{0}`: use sqlite://FILE (one node) or postgres://… \
         (cluster mode, with --redis-url)"
    )]
    UnsupportedScheme(String),
}

impl Default for StoreUrl {
    fn default() -> Self {
        Self::Sqlite(DatabaseUrl::default())
    }
}

impl FromStr for StoreUrl {
    type Err = ParseStoreUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        match url.split_once("://") {
            Some(("postgres" | "postgresql", _)) => Ok(Self::Postgres(url.parse()?)),
            Some(("sqlite", _)) | None => Ok(Self::Sqlite(url.parse()?)),
            Some((scheme, _)) => Err(ParseStoreUrlError::UnsupportedScheme(scheme.into())),
        }
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(url) => url.fmt(f),
            Self::Postgres(url) => url.fmt(f),
        }
    }
}
