//! The cluster's addresses: a `postgres://` `--database-url` and `--redis-url`.

use std::fmt;
use std::str::FromStr;

/// A `postgres://` or `postgresql://` URL, as libpq and tokio-postgres read it.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

/// A `redis://` URL (`redis://[user:password@]host[:port][/db]`) or `unix://` socket path.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

/// Why a `postgres://` `--database-url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid PostgreSQL URL: {0}")]
pub struct ParsePostgresUrlError(String);

/// Why a `--redis-url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Redis URL (expected redis://host[:port][/db] or unix:///path): {0}")]
pub struct ParseRedisUrlError(String);

impl FromStr for PostgresUrl {
    type Err = ParsePostgresUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        match url.split_once("://") {
            Some(("postgres" | "postgresql", _)) => {
                url.parse::<tokio_postgres::Config>()
                    .map_err(|e| ParsePostgresUrlError(e.to_string()))?;
                Ok(Self(url.to_owned()))
            }
            _ => Err(ParsePostgresUrlError(format!(
                "{:?} is not a postgres:// or postgresql:// URL",
                redacted(url)
            ))),
        }
    }
}

impl PostgresUrl {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RedisUrl {
    type Err = ParseRedisUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        match url.split_once("://") {
            Some(("redis" | "unix" | "redis+unix", _)) => {
                redis::Client::open(url).map_err(|e| ParseRedisUrlError(e.to_string()))?;
                Ok(Self(url.to_owned()))
            }
            _ => Err(ParseRedisUrlError(format!(
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
    fn parses_postgres_and_redis_urls_only() {
        assert!(
            "postgres://postgres@127.0.0.1:5432/taskhub"
                .parse::<PostgresUrl>()
                .is_ok()
        );
        assert!("postgresql://db/taskhub".parse::<PostgresUrl>().is_ok());
        assert!("sqlite://x.db".parse::<PostgresUrl>().is_err());
        assert!("postgres://db:notaport/x".parse::<PostgresUrl>().is_err());
        assert!("redis://127.0.0.1:6379/0".parse::<RedisUrl>().is_ok());
        assert!("http://127.0.0.1".parse::<RedisUrl>().is_err());
    }

    #[test]
    fn passwords_never_show() {
        let url: PostgresUrl = "postgres://app:s3cret@db:5432/taskhub"
            .parse()
            .expect("valid");
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/taskhub");
        let redis: RedisUrl = "redis://:s3cret@cache:6379/1".parse().expect("valid");
        assert_eq!(redis.to_string(), "redis://:***@cache:6379/1");
        assert!(!format!("{redis:?}").contains("s3cret"));
    }
}
