//! The SSE wire format: every byte TaskHub writes to a stream is built here.
//!
//! An event is encoded once, when it commits, into an [`EventFrame`]; every subscriber
//! writes clones of the same [`Bytes`] (a reference-count bump, no copy). Field values
//! are safe by construction: ids are integers, event types come from an alphabet without
//! whitespace, and the `data:` line is compact JSON, which escapes every control character.
//! So no input can end a line early and inject a field.

use std::sync::OnceLock;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::mercure::{self, MercureFields};
use crate::{EventId, EventType, Timestamp, Topic};

/// The comment sent after every idle keepalive interval.
pub const KEEPALIVE: &[u8] = b": keepalive\n\n";

/// A committed event, encoded for the wire.
#[derive(Clone, Debug)]
pub struct EventFrame {
    id: EventId,
    event_type: EventType,
    topic: Option<Topic>,
    private: bool,
    /// `id: …\nevent: …\ndata: …\n\n`.
    bytes: Bytes,
    /// Where the `event: …\n` line sits in `bytes`.
    event_line: (usize, usize),
    /// Where the envelope JSON starts in `bytes` (after `data: `).
    envelope_start: usize,
    /// The frame without its `event:` line (`typed=false`), built by the first subscriber
    /// that asks and shared by the rest.
    untyped: OnceLock<Bytes>,
    /// What the event carries from a Mercure publish, if it came from one.
    mercure: Option<Box<MercureFields>>,
    /// The event as a Mercure stream writes it, built by the first Mercure subscriber.
    mercure_bytes: OnceLock<Bytes>,
}

impl EventFrame {
    /// Encodes an event whose envelope JSON is already built (see [`envelope_json`]).
    pub fn new(
        id: EventId,
        event_type: EventType,
        topic: Option<Topic>,
        private: bool,
        envelope: &str,
    ) -> Self {
        let mut buf = BytesMut::with_capacity(envelope.len() + event_type.as_str().len() + 40);
        buf.put_slice(b"id: ");
        buf.put_slice(id.to_string().as_bytes());
        buf.put_u8(b'\n');
        let event_start = buf.len();
        buf.put_slice(b"event: ");
        buf.put_slice(event_type.as_str().as_bytes());
        buf.put_u8(b'\n');
        let event_end = buf.len();
        buf.put_slice(b"data: ");
        let envelope_start = buf.len();
        buf.put_slice(envelope.as_bytes());
        buf.put_slice(b"\n\n");
        Self {
            id,
            event_type,
            topic,
            private,
            bytes: buf.freeze(),
            event_line: (event_start, event_end),
            envelope_start,
            untyped: OnceLock::new(),
            mercure: None,
            mercure_bytes: OnceLock::new(),
        }
    }

    /// Marks the event as published through Mercure, with what Mercure adds to it (its
    /// data as published included, so the Mercure encoding never parses the envelope).
    pub fn with_mercure(mut self, fields: Option<MercureFields>) -> Self {
        self.mercure = fields.map(Box::new);
        self
    }

    pub fn id(&self) -> EventId {
        self.id
    }

    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }

    pub fn topic(&self) -> Option<&Topic> {
        self.topic.as_ref()
    }

    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The same frame, its bytes a copy held in `buffer` from `start` (see
    /// `FrameGroup`); what other subscribers build from it later starts afresh.
    pub(crate) fn moved_into(&self, buffer: &Bytes, start: usize) -> Self {
        Self {
            bytes: buffer.slice(start..start + self.bytes.len()),
            untyped: OnceLock::new(),
            mercure_bytes: OnceLock::new(),
            ..self.clone()
        }
    }

    /// The frame with its `event:` line.
    pub fn typed(&self) -> Bytes {
        self.bytes.clone()
    }

    /// The frame without its `event:` line.
    pub fn untyped(&self) -> Bytes {
        let (start, end) = self.event_line;
        self.untyped
            .get_or_init(|| [&self.bytes[..start], &self.bytes[end..]].concat().into())
            .clone()
    }

    /// The frame for a subscriber that asked for `typed` (the default) or not.
    pub fn bytes(&self, typed: bool) -> Bytes {
        if typed { self.typed() } else { self.untyped() }
    }

    /// The envelope JSON: the `data:` line's value.
    pub fn envelope(&self) -> &str {
        let json = &self.bytes[self.envelope_start..self.bytes.len() - 2];
        std::str::from_utf8(json).expect("the envelope was copied in from a `&str` in `new`")
    }

    /// What a Mercure publisher gave beyond the envelope, if the event came from one.
    pub fn mercure_fields(&self) -> Option<&MercureFields> {
        self.mercure.as_deref()
    }

    /// The topics Mercure selectors match against: a Mercure update's every topic, or a
    /// native event's topic (none for an event without one).
    pub fn mercure_topics(&self) -> impl Iterator<Item = &str> {
        let (mercure, native) = match &self.mercure {
            Some(fields) => (Some(fields.topics.iter().map(|t| t.as_str())), None),
            None => (None, self.topic.as_ref().map(Topic::as_str)),
        };
        mercure.into_iter().flatten().chain(native)
    }

    /// The event as a Mercure stream writes it (`mercure::encode`): an update's own id,
    /// type, retry and data as published; a native event's `#<id>` and envelope.
    pub fn mercure(&self) -> Bytes {
        self.mercure_bytes
            .get_or_init(|| mercure::encode::event(self.id, self.envelope(), self.mercure_fields()))
            .clone()
    }
}

/// The envelope of the seed's clients: `{"id","event","topic"?,"data","timestamp"}`.
///
/// `data` must be compact JSON (as `serde_json::value::to_raw_value` writes it): it is
/// embedded as is, so the `data:` line stays one line.
pub fn envelope_json(
    id: EventId,
    event_type: &EventType,
    topic: Option<&Topic>,
    data: &RawValue,
    timestamp: Timestamp,
) -> String {
    envelope_with_id(id, &envelope_tail(event_type, topic, data, timestamp))
}

/// The envelope without its leading `{"id":"…",`: everything but the id, for a log that
/// stores an event before (or apart from) the id it gets. [`envelope_with_id`] completes
/// it into exactly what [`envelope_json`] builds.
pub fn envelope_tail(
    event_type: &EventType,
    topic: Option<&Topic>,
    data: &RawValue,
    timestamp: Timestamp,
) -> String {
    #[derive(Serialize)]
    struct Tail<'a> {
        event: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        topic: Option<&'a str>,
        data: &'a RawValue,
        timestamp: String,
    }
    let tail = Tail {
        event: event_type.as_str(),
        topic: topic.map(Topic::as_str),
        data,
        timestamp: timestamp.to_string(),
    };
    let mut json = serde_json::to_string(&tail)
        .expect("borrowed strings and raw JSON always serialise into a `String`");
    json.remove(0);
    json
}

/// `{"id":"<id>",` followed by an [`envelope_tail`].
pub fn envelope_with_id(id: EventId, tail: &str) -> String {
    let mut json = String::with_capacity(tail.len() + 32);
    json.push_str("{\"id\":\"");
    json.push_str(&id.to_string());
    json.push_str("\",");
    json.push_str(tail);
    json
}

/// The stream's first block: `retry: <ms>`, then the `connected` event (no `id:`).
/// One block, so parsers that attach `retry` to the event they dispatch see it too.
pub fn preamble(retry_ms: u64, client_id: &str, typed: bool) -> Bytes {
    let data = serde_json::json!({
        "event": "connected",
        "data": { "message": "SSE connection established", "client_id": client_id },
    });
    let mut buf = BytesMut::new();
    buf.put_slice(format!("retry: {retry_ms}\n").as_bytes());
    put_control_event(&mut buf, "connected", &data, typed);
    buf.freeze()
}

/// `event: reset`: the requested id is unknown or older than the retained history.
pub fn reset(last_event_id: &str, typed: bool) -> Bytes {
    let data = serde_json::json!({
        "reason": "history_unavailable",
        "last_event_id": last_event_id,
    });
    control_event("reset", &data, typed)
}

/// `event: gap`: a slow subscriber lost the events with ids `first..=last`.
pub fn gap(first: EventId, last: EventId, typed: bool) -> Bytes {
    let data = serde_json::json!({
        "reason": "slow_consumer",
        "first_dropped_id": first.to_string(),
        "last_dropped_id": last.to_string(),
    });
    control_event("gap", &data, typed)
}

/// A control event: no `id:` line, so it never moves the client's last event id.
fn control_event(name: &str, data: &Value, typed: bool) -> Bytes {
    let mut buf = BytesMut::new();
    put_control_event(&mut buf, name, data, typed);
    buf.freeze()
}

fn put_control_event(buf: &mut BytesMut, name: &str, data: &Value, typed: bool) {
    if typed {
        buf.put_slice(b"event: ");
        buf.put_slice(name.as_bytes());
        buf.put_u8(b'\n');
    }
    buf.put_slice(b"data: ");
    buf.put_slice(data.to_string().as_bytes());
    buf.put_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(data: Value, topic: Option<&str>) -> EventFrame {
        let id = EventId::new(17);
        let event_type = EventType::parse("task_updated").expect("valid");
        let topic = topic.map(|t| Topic::parse(t).expect("valid"));
        let data = serde_json::value::to_raw_value(&data).expect("serialisable");
        let envelope = envelope_json(
            id,
            &event_type,
            topic.as_ref(),
            &data,
            Timestamp::from_unix_millis(1_795_521_600_123),
        );
        EventFrame::new(id, event_type, topic, false, &envelope)
    }

    #[test]
    fn encodes_the_contract_example_exactly() {
        let frame = frame(
            serde_json::json!({"task_id": "42", "status": "done"}),
            Some("tasks/42"),
        );
        assert_eq!(
            frame.typed(),
            "id: 17\nevent: task_updated\ndata: {\"id\":\"17\",\"event\":\"task_updated\",\
             \"topic\":\"tasks/42\",\"data\":{\"task_id\":\"42\",\"status\":\"done\"},\
             \"timestamp\":\"2026-11-24T12:00:00.123Z\"}\n\n"
        );
        let untyped = frame.untyped();
        assert!(untyped.starts_with(b"id: 17\ndata: {\"id\":\"17\""));
        assert_eq!(
            frame.typed().len() - untyped.len(),
            "event: task_updated\n".len()
        );
        assert!(frame.typed().ends_with(&untyped[7..]));
    }

    #[test]
    fn mercure_encoding_of_native_events_and_mercure_updates() {
        let native = frame(serde_json::json!({"a": 1}), Some("tasks/42"));
        assert_eq!(
            native.mercure(),
            format!("id: #17\ndata: {}\n\n", native.envelope())
        );
        assert!(native.envelope().starts_with("{\"id\":\"17\""));
        assert_eq!(native.mercure_topics().collect::<Vec<_>>(), ["tasks/42"]);
        assert_eq!(
            frame(serde_json::json!(1), None).mercure_topics().count(),
            0
        );

        let fields = MercureFields {
            id: crate::mercure::UpdateId::parse("id-[\"x\"]").expect("valid"),
            topics: ["https://a/1", "https://alt/1"]
                .into_iter()
                .map(|t| crate::mercure::MercureTopic::parse(t).expect("valid"))
                .collect(),
            update_type: Some(crate::mercure::UpdateType::parse("note").expect("valid")),
            retry: Some(7000),
            data: "one\r\ntwo\n\nthree\rfour\n".into(),
        };
        let update = frame(serde_json::json!(fields.data), None).with_mercure(Some(fields));
        assert_eq!(
            update.mercure(),
            "id: id-[\"x\"]\nevent: note\nretry: 7000\ndata: one\ndata: two\ndata: \n\
             data: three\ndata: four\ndata: \n\n"
        );
        assert_eq!(
            update.mercure_topics().collect::<Vec<_>>(),
            ["https://a/1", "https://alt/1"]
        );
    }

    #[test]
    fn control_events_carry_no_id() {
        let typed = preamble(3000, "c1", true);
        assert_eq!(
            typed,
            "retry: 3000\nevent: connected\ndata: {\"event\":\"connected\",\"data\":\
             {\"message\":\"SSE connection established\",\"client_id\":\"c1\"}}\n\n"
        );
        assert!(
            !preamble(3000, "c1", false)
                .windows(6)
                .any(|w| w == b"event:")
        );
        let reset = reset("9\nid: 1", true);
        assert_eq!(
            reset,
            "event: reset\ndata: {\"reason\":\"history_unavailable\",\"last_event_id\":\"9\\nid: 1\"}\n\n"
        );
    }

    #[test]
    fn tail_and_id_rebuild_the_same_envelope() {
        let event_type = EventType::parse("note").expect("valid");
        let data = serde_json::value::to_raw_value(&serde_json::json!({"a": [1, "x"]}))
            .expect("serialisable");
        let at = Timestamp::from_unix_millis(1_795_521_600_123);
        for topic in [None, Some(Topic::parse("t/1").expect("valid"))] {
            let tail = envelope_tail(&event_type, topic.as_ref(), &data, at);
            let rebuilt = envelope_with_id(EventId::new(42), &tail);
            let value: Value = serde_json::from_str(&rebuilt).expect("JSON");
            assert_eq!(value["id"], "42");
            assert_eq!(value["event"], "note");
            assert_eq!(
                rebuilt,
                envelope_json(EventId::new(42), &event_type, topic.as_ref(), &data, at)
            );
        }
        assert_eq!(
            envelope_with_id(
                EventId::new(7),
                &envelope_tail(&event_type, None, &data, at)
            ),
            "{\"id\":\"7\",\"event\":\"note\",\"data\":{\"a\":[1,\"x\"]},\
             \"timestamp\":\"2026-11-24T12:00:00.123Z\"}"
        );
    }
}
