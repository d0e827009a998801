//! Selectors: an exact name, or a prefix when written with a trailing `*`.

/// Matches a type or topic exactly, or by prefix when written with a trailing `*`
/// (`deploys/*`, `task_*`, or `*` for everything).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Exact(Box<str>),
    Prefix(Box<str>),
}

impl Selector {
    /// Splits off the trailing `*`; the caller validates what is left.
    pub(crate) fn split(item: &str) -> (Self, &str) {
        match item.strip_suffix('*') {
            Some(prefix) => (Self::Prefix(prefix.into()), prefix),
            None => (Self::Exact(item.into()), item),
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(exact) => value == &**exact,
            Self::Prefix(prefix) => value.starts_with(&**prefix),
        }
    }
}
