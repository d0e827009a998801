//! `--database-url` (SQLite or PostgreSQL) and `--redis-url`.

use std::fmt;
use std::str::FromStr;

use taskhub_store::{DatabaseUrl, ParseDatabaseUrlError};

/// Where the tasks (and, with SQLite, the events) live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// `sqlite://FILE`: the embedded store of a single node.
    Sqlite(DatabaseUrl),
    /// `postgres://…`: the tasks of a cluster (events then live in Redis).
    Postgres(PostgresUrl),
}

/// A `postgres://` or `postgresql://` URL, as libpq and tokio-postgres read it.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

/// A `redis://` URL (`redis://[user:password@]host[:port][/db]`) or `unix://` socket path.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

/// Why a `--database-url` or `--redis-url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseStoreUrlError {
    #[error(transparent)]
    Sqlite(#[from] ParseDatabaseUrlError),
    #[error("invalid PostgreSQL URL: {0}")]
    Postgres(String),
    #[error(
        "unsupported database scheme `{0}`: use sqlite://FILE (one node) or postgres://… \
         (cluster mode, with --redis-url)"
    )]
    UnsupportedScheme(String),
    #[error("invalid Redis URL (expected redis://host[:port][/db] or unix:///path): {0}")]
    Redis(String),
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
            Some(("postgres" | "postgresql", _)) => {
                url.parse::<tokio_postgres::Config>()
                    .map_err(|e| ParseStoreUrlError::Postgres(e.to_string()))?;
                Ok(Self::Postgres(PostgresUrl(url.to_owned())))
            }
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

impl PostgresUrl {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RedisUrl {
    type Err = ParseStoreUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        match url.split_once("://") {
            Some(("redis" | "unix" | "redis+unix", _)) => {
                redis::Client::open(url).map_err(|e| ParseStoreUrlError::Redis(e.to_string()))?;
                Ok(Self(url.to_owned()))
            }
            _ => Err(ParseStoreUrlError::Redis(format!(
                "{:?} is not a redis:// or unix:// URL",
                redacted(url)
            ))),
        }
    }
}

impl RedisUrl {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shown without its password, so logs never carry it.
impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redacted(&self.0))
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// Shown without its password, so logs never carry it.
impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redacted(&self.0))
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

/// `scheme://user:secret@host/…` becomes `scheme://user:***@host/…`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let masked = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{masked}{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_engine() {
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
            "mysql://x".parse::<StoreUrl>(),
            Err(ParseStoreUrlError::UnsupportedScheme(_))
        ));
        assert!("redis://127.0.0.1:6379/0".parse::<RedisUrl>().is_ok());
        assert!("http://127.0.0.1".parse::<RedisUrl>().is_err());
    }

    #[test]
    fn passwords_never_show() {
        let url: StoreUrl = "postgres://app:s3cret@db:5432/taskhub"
            .parse()
            .expect("valid");
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/taskhub");
        let redis: RedisUrl = "redis://:s3cret@cache:6379/1".parse().expect("valid");
        assert_eq!(redis.to_string(), "redis://:***@cache:6379/1");
        assert!(!format!("{redis:?}").contains("s3cret"));
    }
}
