//! The task record behind the tasks API, and its validated status.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A task's id, assigned by the store. Shown to clients as a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(i64);

impl TaskId {
    pub const fn new(value: i64) -> Self {
        Self(value)
    }

    pub const fn get(self) -> i64 {
        self.0
    }
}

/// A path segment that names no task this store could have issued. Callers answer 404,
/// since to a client an id is opaque and an ill-formed one is merely unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no such task")]
pub struct UnknownTaskId;

impl FromStr for TaskId {
    type Err = UnknownTaskId;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.parse::<i64>() {
            Ok(id) if id > 0 && id.to_string() == value => Ok(Self(id)),
            _ => Err(UnknownTaskId),
        }
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for TaskId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A task status: 1–64 characters of `[a-z0-9_-]`; `todo` unless said otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TaskStatus(Box<str>);

/// Why a string is not a [`TaskStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTaskStatusError {
    #[error("must be 1 to 64 characters, got {len}")]
    Length { len: usize },
    #[error("may only contain a-z, 0-9, '_' and '-', found {found:?}")]
    BadChar { found: char },
}

impl TaskStatus {
    pub const MAX_LEN: usize = 64;
    /// The alphabet and length above as a regular expression, for the OpenAPI document.
    pub const PATTERN: &str = "^[a-z0-9_-]{1,64}$";

    pub fn parse(value: &str) -> Result<Self, ParseTaskStatusError> {
        if let Some(found) = value
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-')))
        {
            return Err(ParseTaskStatusError::BadChar { found });
        }
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(ParseTaskStatusError::Length { len: value.len() });
        }
        Ok(Self(value.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TaskStatus {
    fn default() -> Self {
        Self("todo".into())
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TaskStatus {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(Self::PATTERN))
            .examples(["todo"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TaskStatus {}

/// A task as the API returns it and as task events carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "42"))]
    pub id: TaskId,
    pub title: String,
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub status: TaskStatus,
    pub created_at: String,
    pub updated_at: String,
}

impl Task {
    /// Longest title, in characters (surrounding spaces are trimmed first).
    pub const MAX_TITLE_CHARS: usize = 500;
    /// Longest description, in characters.
    pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_alphabet() {
        assert!(TaskStatus::parse("in_progress").is_ok());
        assert!(TaskStatus::parse("done-2").is_ok());
        assert!(TaskStatus::parse("").is_err());
        assert!(TaskStatus::parse("Done").is_err());
        assert!(TaskStatus::parse("a b").is_err());
        assert!(TaskStatus::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn the_documented_pattern_is_the_parser() {
        let pattern = regex::Regex::new(TaskStatus::PATTERN).expect("a valid pattern");
        for value in [
            "todo",
            "in_progress",
            "",
            "Done",
            "a b",
            "é",
            &"a".repeat(64),
            &"a".repeat(65),
        ] {
            assert_eq!(
                pattern.is_match(value),
                TaskStatus::parse(value).is_ok(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn task_ids_are_canonical_positive_integers() {
        assert_eq!("42".parse::<TaskId>(), Ok(TaskId::new(42)));
        for bad in ["0", "-1", "042", "task-1", ""] {
            assert!(bad.parse::<TaskId>().is_err(), "{bad:?}");
        }
    }
}
