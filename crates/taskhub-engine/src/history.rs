//! The log read as history rather than resumed: ranges of ids in either order, where in
//! time a range starts, the newest event on a topic, and how long events are kept.

use std::time::Duration;

use taskhub_core::{EventId, Timestamp};

/// Which way a read walks the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Oldest first.
    Ascending,
    /// Newest first.
    Descending,
}

/// The ids strictly between two bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub after: EventId,
    /// `None`: up to the newest event.
    pub before: Option<EventId>,
}

impl IdRange {
    /// Everything the log holds.
    pub const ALL: Self = Self {
        after: EventId::ZERO,
        before: None,
    };

    /// Whether `id` lies strictly between the bounds.
    pub fn contains(&self, id: EventId) -> bool {
        id > self.after && self.before.is_none_or(|before| id < before)
    }
}

/// How much history a log keeps: the newest `max_events`, and of those only the ones
/// younger than `max_age` when it is set. Whichever bound trims first wins.
///
/// The count is kept exactly by every append. Age is enforced in the background, in
/// bounded steps between publishes, so an event may outlive its age by up to
/// [`Retention::trim_period`] (plus one step per [`Retention::TRIM_STEP`] expired events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_events: u64,
    pub max_age: Option<Duration>,
}

impl Retention {
    /// Most events one trimming step removes: a step holds the writer (SQLite) or Redis
    /// for a few milliseconds at most, so publishes queue behind it only that long. After
    /// a full step the trimmer waits as long as the step took, so a large trim takes at
    /// most half of the writer's time.
    pub const TRIM_STEP: usize = 500;

    /// Events stamped before this are expired at `now`, when there is a maximum age.
    pub fn expired_before(&self, now: Timestamp) -> Option<Timestamp> {
        self.max_age.map(|age| {
            let age = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
            Timestamp::from_unix_millis(now.unix_millis().saturating_sub(age))
        })
    }

    /// How often the background trimmer looks for expired events: a quarter of the age,
    /// within 100 ms and 10 s.
    pub fn trim_period(&self) -> Option<Duration> {
        self.max_age
            .map(|age| (age / 4).clamp(Duration::from_millis(100), Duration::from_secs(10)))
    }
}
