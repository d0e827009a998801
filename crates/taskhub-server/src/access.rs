//! What a subscriber may see beyond public events.
//!
//! Today authentication is off, so no subscriber holds credentials and private events
//! reach nobody (they are stored and replayable once credentials exist). The JWT layer
//! fills [`Access`] from a token's `subscribe` selectors.

use taskhub_core::{EventFrame, Selector};

/// The private topics a subscriber's credentials cover.
#[derive(Clone, Debug, Default)]
pub(crate) struct Access {
    private_topics: Vec<Selector>,
}

impl Access {
    /// No credentials: public events only.
    pub(crate) fn anonymous() -> Self {
        Self::default()
    }

    /// Whether this subscriber may receive the event at all.
    pub(crate) fn may_see(&self, frame: &EventFrame) -> bool {
        !frame.is_private()
            || frame.topic().is_some_and(|topic| {
                self.private_topics
                    .iter()
                    .any(|s| s.matches(topic.as_str()))
            })
    }
}
