//! One stream entry, to and from TaskHub's event: fields `t` (type), `p` (topic, `""` for
//! none), `v` (private, `1`/`0`), `e` (the envelope without its id) and, for an event
//! published through Mercure, `m` (its `MercureFields` as stored beside an envelope,
//! `MercureFields::to_stored`). Whoever reads an entry rebuilds the envelope with the
//! entry's id, takes a Mercure update's data back from it, and encodes the frame once.

use std::sync::Arc;

use redis::streams::StreamId;
use taskhub_core::frame::{envelope_tail, envelope_with_id};
use taskhub_core::mercure::MercureFields;
use taskhub_core::{EventFrame, EventId, EventType, Timestamp, Topic};
use taskhub_engine::NewEvent;

use crate::error::ClusterError;

/// What an event adds to the publish script's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryFields {
    pub(crate) event_type: String,
    /// `""` for none.
    pub(crate) topic: String,
    pub(crate) private: bool,
    /// The envelope without its id.
    pub(crate) tail: String,
    /// A Mercure update's id and its stored `MercureFields`; `None` for native events.
    pub(crate) mercure: Option<(String, String)>,
}

impl EntryFields {
    /// The script's six arguments for this event: type, topic, private, tail, and the
    /// Mercure update id and fields (`""` for a native event).
    pub(crate) fn args(&self) -> [&str; 6] {
        let (update_id, mercure) = self
            .mercure
            .as_ref()
            .map_or(("", ""), |(id, json)| (id.as_str(), json.as_str()));
        [
            &self.event_type,
            &self.topic,
            if self.private { "1" } else { "0" },
            &self.tail,
            update_id,
            mercure,
        ]
    }
}

/// The entry fields of `event`, stamped with `timestamp`.
pub(crate) fn fields(event: &NewEvent, timestamp: Timestamp) -> EntryFields {
    let mercure = event
        .mercure
        .as_ref()
        .map(|fields| (fields.id.to_string(), fields.to_stored()));
    EntryFields {
        event_type: event.event_type.as_str().to_owned(),
        topic: event.topic.as_ref().map_or("", Topic::as_str).to_owned(),
        private: event.private,
        tail: envelope_tail(
            &event.event_type,
            event.topic.as_ref(),
            &event.data,
            timestamp,
        ),
        mercure,
    }
}

/// The event id of a stream entry id (`N-0`).
pub(crate) fn event_id(entry_id: &str) -> Result<EventId, ClusterError> {
    entry_id
        .strip_suffix("-0")
        .and_then(|n| n.parse().ok())
        .map(EventId::new)
        .ok_or_else(|| ClusterError::corrupt("event stream", format!("entry id {entry_id:?}")))
}

/// Decodes an entry and encodes its frame.
pub(crate) fn frame(entry: &StreamId) -> Result<Arc<EventFrame>, ClusterError> {
    let id = event_id(&entry.id)?;
    let field = |name: &str| {
        entry.get::<String>(name).ok_or_else(|| {
            ClusterError::corrupt("event stream", format!("entry {} lacks `{name}`", entry.id))
        })
    };
    let corrupt =
        |what: String| ClusterError::corrupt("event stream", format!("entry {id}: {what}"));
    let event_type = EventType::parse(&field("t")?).map_err(|e| corrupt(format!("type: {e}")))?;
    let topic = match field("p")?.as_str() {
        "" => None,
        topic => Some(Topic::parse(topic).map_err(|e| corrupt(format!("topic: {e}")))?),
    };
    let private = field("v")? == "1";
    let envelope = envelope_with_id(id, &field("e")?);
    let mercure = entry
        .get::<String>("m")
        .map(|stored| MercureFields::from_stored(&stored, &envelope))
        .transpose()
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(Arc::new(
        EventFrame::new(id, event_type, topic, private, &envelope).with_mercure(mercure),
    ))
}

#[cfg(test)]
mod tests {
    use redis::Value;

    use super::*;

    #[test]
    fn an_entry_becomes_the_frame_a_single_node_would_encode() {
        let event = NewEvent {
            event_type: EventType::parse("task_updated").expect("valid"),
            topic: Some(Topic::parse("tasks/42").expect("valid")),
            private: true,
            data: serde_json::value::to_raw_value(&serde_json::json!({"status": "done"}))
                .expect("serialisable"),
            mercure: None,
        };
        let at = Timestamp::from_unix_millis(1_795_521_600_123);
        let frame = frame(&entry("17-0", &fields(&event, at))).expect("readable");
        let (_, expected) = event.commit(EventId::new(17), at);
        assert_eq!(frame.typed(), expected.typed());
        assert!(frame.is_private());
        assert_eq!(frame.topic().map(Topic::as_str), Some("tasks/42"));
        assert!(frame.mercure_fields().is_none());
    }

    #[test]
    fn a_mercure_update_keeps_its_fields_through_the_stream() {
        use taskhub_core::mercure::{MercureTopic, UpdateId};
        let mercure = MercureFields {
            id: UpdateId::parse("urn:x").expect("valid"),
            topics: vec![MercureTopic::parse("https://a/1").expect("valid")],
            update_type: None,
            retry: None,
            data: "hello\nworld".into(),
        };
        let event = NewEvent {
            event_type: EventType::parse("message").expect("valid"),
            topic: None,
            private: false,
            data: serde_json::value::to_raw_value(&mercure.data).expect("serialisable"),
            mercure: Some(mercure.clone()),
        };
        let fields = fields(&event, Timestamp::now());
        assert_eq!(fields.args()[4], "urn:x");
        let frame = frame(&entry("3-0", &fields)).expect("readable");
        assert_eq!(frame.mercure_fields(), Some(&mercure));
        assert_eq!(frame.mercure(), "id: urn:x\ndata: hello\ndata: world\n\n");
    }

    #[test]
    fn an_entry_written_before_data_was_kept_apart_still_reads() {
        // Exactly what the previous version's publish script appended for an update.
        let written = EntryFields {
            event_type: "message".into(),
            topic: String::new(),
            private: false,
            tail: r#""event":"message","data":"a\r\nb","timestamp":"2026-11-24T12:00:00.123Z"}"#
                .into(),
            mercure: Some((
                "u1".into(),
                r#"{"id":"u1","topics":["https://a/1"],"retry":100}"#.into(),
            )),
        };
        let frame = frame(&entry("9-0", &written)).expect("readable");
        assert_eq!(frame.mercure(), "id: u1\nretry: 100\ndata: a\ndata: b\n\n");
    }

    #[test]
    fn an_update_entry_whose_data_is_not_a_string_is_refused_not_guessed() {
        let damaged = EntryFields {
            event_type: "message".into(),
            topic: String::new(),
            private: false,
            tail: r#""event":"message","data":{"a":1},"timestamp":"x"}"#.into(),
            mercure: Some(("u1".into(), r#"{"id":"u1","topics":["t"]}"#.into())),
        };
        assert!(matches!(
            frame(&entry("9-0", &damaged)),
            Err(ClusterError::Corrupt { .. })
        ));
    }

    /// The entry the publish script writes for `fields`: `m` only for a Mercure update.
    fn entry(id: &str, fields: &EntryFields) -> StreamId {
        let [t, p, v, e, _, m] = fields.args();
        let mercure = (!m.is_empty()).then_some(("m", m));
        StreamId {
            id: id.into(),
            map: [("t", t), ("p", p), ("v", v), ("e", e)]
                .into_iter()
                .chain(mercure)
                .map(|(k, v)| (k.to_owned(), Value::BulkString(v.as_bytes().to_vec())))
                .collect(),
            ..StreamId::default()
        }
    }

    #[test]
    fn entry_ids_must_be_taskhubs() {
        assert_eq!(event_id("5-0").expect("ours"), EventId::new(5));
        for bad in ["5-1", "5", "x-0", "-0", "1700000000000-3"] {
            assert!(event_id(bad).is_err(), "{bad}");
        }
    }
}
