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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_names_its_engine_by_scheme() {
        assert!(matches!(
            "sqlite://x.db".parse::<StoreUrl>(),
            Ok(StoreUrl::Sqlite(_))
        ));
        assert!(matches!(
            "x.db".parse::<StoreUrl>(),
            Ok(StoreUrl::Sqlite(_))
        ));
        assert!(matches!(
            "postgres://postgres@127.0.0.1:5432/taskhub".parse::<StoreUrl>(),
            Ok(StoreUrl::Postgres(_))
        ));
        assert!(matches!(
            "postgresql://db/taskhub".parse::<StoreUrl>(),
            Ok(StoreUrl::Postgres(_))
        ));
        assert!(matches!(
            "mysql://x".parse::<StoreUrl>(),
            Err(ParseStoreUrlError::UnsupportedScheme(_))
        ));
        assert_eq!(StoreUrl::default().to_string(), "sqlite://taskhub.db");
    }

    #[test]
    fn each_engine_explains_its_own_refusal() {
        let refused = |url: &str| url.parse::<StoreUrl>().err().map(|e| e.to_string());
        assert_eq!(
            refused("sqlite://").as_deref(),
            Some("the database URL is empty")
        );
        assert!(
            refused("postgres://db:port/x")
                .is_some_and(|e| e.starts_with("invalid PostgreSQL URL: ")),
        );
        assert!(
            refused("mysql://x")
                .is_some_and(|e| e.starts_with("unsupported database scheme `mysql`"))
        );
        let shown: StoreUrl = "postgres://app:s3cret@db:5432/taskhub"
            .parse()
            .expect("valid");
        assert_eq!(shown.to_string(), "postgres://app:***@db:5432/taskhub");
    }
}
