//! Where a Mercure subscriber resumes: its `Last-Event-ID` header or `lastEventID` query.

use super::fields::UpdateId;
use crate::EventId;

/// A Mercure resume request, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResumePoint {
    /// `earliest`: everything the history holds.
    Earliest,
    /// `#N`: after the native event `N` (how native events appear on Mercure streams).
    Event(EventId),
    /// After the update with this id, if the history holds it.
    Update(UpdateId),
    /// Nothing this hub issues: replay nothing.
    Unknown,
}

impl ResumePoint {
    pub fn parse(raw: &str) -> Self {
        if raw == "earliest" {
            return Self::Earliest;
        }
        if let Some(position) = raw.strip_prefix('#') {
            return position.parse().map_or(Self::Unknown, Self::Event);
        }
        UpdateId::parse(raw).map_or(Self::Unknown, Self::Update)
    }
}

/// The id a native event has on Mercure streams: `#` and its event id, a relative IRI
/// that no publisher may use (draft-07 lets the hub generate such fragment ids).
pub fn native_id(id: EventId) -> String {
    format!("#{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert_eq!(ResumePoint::parse("earliest"), ResumePoint::Earliest);
        assert_eq!(
            ResumePoint::parse("#42"),
            ResumePoint::Event(EventId::new(42))
        );
        assert_eq!(ResumePoint::parse("#4x"), ResumePoint::Unknown);
        assert_eq!(ResumePoint::parse("#"), ResumePoint::Unknown);
        assert_eq!(
            ResumePoint::parse("urn:uuid:1"),
            ResumePoint::Update(UpdateId::parse("urn:uuid:1").expect("valid"))
        );
        assert_eq!(ResumePoint::parse("a\u{0}b"), ResumePoint::Unknown);
        assert_eq!(native_id(EventId::new(7)), "#7");
    }
}
