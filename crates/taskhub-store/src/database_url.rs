//! `--database-url`: where the embedded store lives.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A SQLite database location: `sqlite://taskhub.db` (relative to the working directory),
/// `sqlite:///var/lib/taskhub.db` (absolute), or a bare path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseUrl {
    path: PathBuf,
}

/// Why a `--database-url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDatabaseUrlError {
    #[error("the database URL is empty")]
    Empty,
    #[error(
        "unsupported database scheme `{0}`: this build stores events in SQLite (`sqlite://FILE`)"
    )]
    UnsupportedScheme(String),
}

impl Default for DatabaseUrl {
    /// `sqlite://taskhub.db`: a file in the working directory.
    fn default() -> Self {
        Self {
            path: "taskhub.db".into(),
        }
    }
}

impl DatabaseUrl {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl FromStr for DatabaseUrl {
    type Err = ParseDatabaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let path = match url.split_once("://") {
            Some(("sqlite", path)) => path,
            Some((scheme, _)) => {
                return Err(ParseDatabaseUrlError::UnsupportedScheme(scheme.into()));
            }
            None => url.strip_prefix("sqlite:").unwrap_or(url),
        };
        // Query options (`?mode=rwc`) are accepted for familiarity and ignored.
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(ParseDatabaseUrlError::Empty);
        }
        Ok(Self { path: path.into() })
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sqlite://{}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relative_absolute_and_bare_paths() {
        let cases = [
            ("sqlite://taskhub.db", "taskhub.db"),
            ("sqlite:///var/lib/t.db", "/var/lib/t.db"),
            ("sqlite:data/t.db?mode=rwc", "data/t.db"),
            ("/tmp/x.db", "/tmp/x.db"),
        ];
        for (url, path) in cases {
            let parsed: DatabaseUrl = url.parse().expect(url);
            assert_eq!(parsed.path(), Path::new(path));
        }
    }

    #[test]
    fn refuses_other_databases() {
        assert!(matches!(
            "postgres://localhost/test".parse::<DatabaseUrl>(),
            Err(ParseDatabaseUrlError::UnsupportedScheme(s)) if s == "postgres"
        ));
        assert_eq!(
            "sqlite://".parse::<DatabaseUrl>(),
            Err(ParseDatabaseUrlError::Empty)
        );
    }
}
