//! What a stream shows its subscriber: which events, and in which wire format.
//!
//! A native stream (`GET /events/stream`) filters by type and topic and writes TaskHub's
//! frames; a Mercure stream (`GET /.well-known/mercure`) matches topic selectors and
//! writes Mercure's (`EventFrame::mercure`). Both read the same log and the same ring,
//! so replay, the live seam, keepalives and the slow-client policy are shared.

use std::time::SystemTime;

use bytes::Bytes;
use taskhub_core::frame;
use taskhub_core::mercure::TopicSelector;
use taskhub_core::{EventFrame, EventId, Filter};

use crate::auth::Access;

/// The first bytes of a Mercure stream: a comment, so that every client sees the stream
/// open at once (Mercure hubs do the same).
const MERCURE_OPENING: &[u8] = b":\n";

#[derive(Debug)]
pub(crate) enum View {
    Native {
        filter: Filter,
        access: Access,
        /// `false` leaves out the `event:` lines (`?typed=false`).
        typed: bool,
    },
    Mercure(MercureSelection),
}

/// What one Mercure subscriber receives: updates with a topic its selectors match; of
/// private ones, only those with a topic its token's `mercure.subscribe` matches.
#[derive(Debug)]
pub(crate) struct MercureSelection {
    pub(crate) selectors: Vec<TopicSelector>,
    pub(crate) private_selectors: Vec<TopicSelector>,
    /// When the token expires, and the stream with it.
    pub(crate) expires_at: Option<SystemTime>,
}

impl MercureSelection {
    fn wants(&self, frame: &EventFrame) -> bool {
        let matches = |selectors: &[TopicSelector]| {
            selectors
                .iter()
                .any(|selector| selector.matches_any(frame.mercure_topics()))
        };
        matches(&self.selectors) && (!frame.is_private() || matches(&self.private_selectors))
    }
}

impl View {
    pub(crate) fn wants(&self, frame: &EventFrame) -> bool {
        match self {
            Self::Native { filter, access, .. } => {
                filter.matches(frame.event_type(), frame.topic()) && access.may_see(frame)
            }
            Self::Mercure(selection) => selection.wants(frame),
        }
    }

    /// Whether the stream writes frames as they are typed, so that consecutive frames of
    /// a group can be written as one slice of its buffer.
    pub(crate) fn shares_typed_bytes(&self) -> bool {
        matches!(self, Self::Native { typed: true, .. })
    }

    /// The frame's bytes for this stream: shared, never copied.
    pub(crate) fn encode(&self, frame: &EventFrame) -> Bytes {
        match self {
            Self::Native { typed, .. } => frame.bytes(*typed),
            Self::Mercure(_) => frame.mercure(),
        }
    }

    /// What a stream starts with: the `retry:` advice and the `connected` event, or
    /// Mercure's opening comment.
    pub(crate) fn opening(&self, retry_ms: u64, client_id: &str) -> Bytes {
        match self {
            Self::Native { typed, .. } => frame::preamble(retry_ms, client_id, *typed),
            Self::Mercure(_) => Bytes::from_static(MERCURE_OPENING),
        }
    }

    /// The `event: reset` for a resume id the log cannot replay after. Mercure has
    /// none: its subscriber learnt from the `Last-Event-ID` response header already.
    pub(crate) fn reset(&self, requested: &str) -> Option<Bytes> {
        match self {
            Self::Native { typed, .. } => Some(frame::reset(requested, *typed)),
            Self::Mercure(_) => None,
        }
    }

    /// The `event: gap` telling a slow subscriber (`drop-oldest`) what it lost.
    pub(crate) fn gap(&self, first: EventId, last: EventId) -> Bytes {
        let typed = match self {
            Self::Native { typed, .. } => *typed,
            Self::Mercure(_) => true,
        };
        frame::gap(first, last, typed)
    }

    /// When the subscriber's credentials expire and the stream must end.
    pub(crate) fn expires_at(&self) -> Option<SystemTime> {
        match self {
            Self::Native { access, .. } => access.expires_at,
            Self::Mercure(selection) => selection.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use taskhub_core::mercure::{HubUrl, MercureFields, MercureTopic, UpdateId};
    use taskhub_core::{EventType, Topic};

    use super::*;

    fn hub() -> HubUrl {
        HubUrl::new("https", "hub.example").expect("valid host")
    }

    fn pattern(raw: &str) -> TopicSelector {
        TopicSelector::match_urlpattern(raw, &hub()).expect("valid pattern")
    }

    fn exact(raw: &str) -> TopicSelector {
        TopicSelector::match_exact(raw).expect("valid matcher")
    }

    /// A Mercure update on `topics`, private or not.
    fn update(topics: &[&str], private: bool) -> EventFrame {
        let fields = MercureFields {
            id: UpdateId::parse("u").expect("valid"),
            topics: topics
                .iter()
                .map(|t| MercureTopic::parse(t).expect("valid"))
                .collect(),
            update_type: None,
            retry: None,
            data: "".into(),
        };
        let event_type = EventType::parse("message").expect("valid");
        EventFrame::new(EventId::new(1), event_type, None, private, "{}").with_mercure(Some(fields))
    }

    fn selection(selectors: Vec<TopicSelector>, grants: Vec<TopicSelector>) -> View {
        View::Mercure(MercureSelection {
            selectors,
            private_selectors: grants,
            expires_at: None,
        })
    }

    #[test]
    fn mercure_1_matchers_route_and_grant_alike() {
        let books = "https://example.com/books/1";
        let own = "https://example.com/users/42/books/1";
        // The draft's example: every book routed, the user's own namespace granted.
        let view = selection(
            vec![pattern("https://example.com/books/:id")],
            vec![pattern("https://example.com/users/42/*")],
        );
        assert!(view.wants(&update(&[books], false)));
        assert!(!view.wants(&update(&[books], true)), "no grant on book 1");
        assert!(
            view.wants(&update(&[books, own], true)),
            "granted by its alternate"
        );
        assert!(!view.wants(&update(&[own], false)), "not routed");
        // An exact grant; a grant for everything never widens the routing.
        let view = selection(vec![pattern("/books/:id")], vec![exact("/books/7")]);
        assert!(view.wants(&update(&["/books/7"], true)));
        assert!(view.wants(&update(&["https://hub.example/books/8"], false)));
        assert!(!view.wants(&update(&["/books/8"], true)));
        let view = selection(vec![exact(books)], vec![exact("*")]);
        assert!(view.wants(&update(&[books], true)));
        assert!(!view.wants(&update(&["https://example.com/books/2"], true)));
        // A native event's topic is a relative reference: resolved against the hub's URL
        // (`/.well-known/tasks/42`), as a relative pattern without a leading `/` is.
        let native = EventFrame::new(
            EventId::new(2),
            EventType::parse("task_updated").expect("valid"),
            Some(Topic::parse("tasks/42").expect("valid")),
            false,
            "{}",
        );
        assert!(selection(vec![pattern("tasks/:id")], vec![]).wants(&native));
        assert!(selection(vec![pattern("/.well-known/tasks/:id")], vec![]).wants(&native));
        assert!(!selection(vec![pattern("/tasks/:id")], vec![]).wants(&native));
        assert!(selection(vec![exact("tasks/42")], vec![]).wants(&native));
    }
}
