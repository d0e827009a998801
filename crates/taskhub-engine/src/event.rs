//! An event as a publisher hands it to an engine, the feed of committed events to the hub,
//! and a page of history.

use std::sync::Arc;

use serde_json::value::RawValue;
use taskhub_core::frame::envelope_json;
use taskhub_core::mercure::MercureFields;
use taskhub_core::{EventFrame, EventId, EventType, Timestamp, Topic};

/// An event as published, before the engine gives it an id and a timestamp.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: EventType,
    pub topic: Option<Topic>,
    pub private: bool,
    /// Compact JSON, as `serde_json::value::to_raw_value` writes it.
    pub data: Box<RawValue>,
    /// What a Mercure publish adds (its `data` is then a JSON string, the same text as
    /// `MercureFields::data`); `None` for native events.
    pub mercure: Option<MercureFields>,
}

impl NewEvent {
    /// The event as committed with `id` at `at`: its envelope (the JSON a log stores and
    /// replays from) and its frame, encoded once for every subscriber.
    pub fn commit(self, id: EventId, at: Timestamp) -> (String, EventFrame) {
        let envelope = envelope_json(id, &self.event_type, self.topic.as_ref(), &self.data, at);
        let frame = EventFrame::new(id, self.event_type, self.topic, self.private, &envelope)
            .with_mercure(self.mercure);
        (envelope, frame)
    }
}

/// Receives every committed event, in id order, once it is durable (on the SQLite
/// writer's thread, or the Redis reader's task), the events committed (or read) together
/// in one call. It must not block.
pub type CommitSink = Box<dyn Fn(Vec<Arc<EventFrame>>) + Send + 'static>;

/// The answer to "the events after this id".
#[derive(Debug)]
pub enum Replay {
    /// The next events after the id, in order; fewer than asked means caught up.
    Events(Vec<Arc<EventFrame>>),
    /// The id was never issued here, or its successors were already trimmed.
    Unavailable,
}
