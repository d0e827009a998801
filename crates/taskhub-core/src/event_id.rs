//! Event ids: the position of an event in the hub's log.

use std::fmt;
use std::str::FromStr;

/// An event's id. Ids are assigned by the store when the event commits and are strictly
/// increasing in commit order, which is also delivery order. On the wire they are
/// decimal strings; clients must treat them as opaque.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EventId(u64);

/// A `Last-Event-ID` that this hub could never have issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an event id issued by this hub")]
pub struct ParseEventIdError;

impl EventId {
    /// The id before the first event: resuming after it replays the whole history.
    pub const ZERO: Self = Self(0);

    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    /// The id that follows this one.
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl FromStr for EventId {
    type Err = ParseEventIdError;

    /// Accepts only the canonical decimal form the hub writes (no sign, no leading zeros).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let canonical = !value.is_empty()
            && value.bytes().all(|b| b.is_ascii_digit())
            && (value == "0" || !value.starts_with('0'));
        if !canonical {
            return Err(ParseEventIdError);
        }
        value.parse().map(Self).map_err(|_| ParseEventIdError)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_display_form() {
        for n in [0, 1, 17, u64::MAX] {
            let id = EventId::new(n);
            assert_eq!(id.to_string().parse::<EventId>(), Ok(id));
        }
    }

    #[test]
    fn rejects_non_canonical_forms() {
        for bad in [
            "",
            "-1",
            "+1",
            "01",
            " 1",
            "1.0",
            "abc",
            "18446744073709551616",
        ] {
            assert_eq!(bad.parse::<EventId>(), Err(ParseEventIdError), "{bad:?}");
        }
    }
}
