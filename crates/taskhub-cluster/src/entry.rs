//! One stream entry, to and from TaskHub's event: fields `t` (type), `p` (topic, `""` for
//! none), `v` (private, `1`/`0`) and `e` (the envelope without its id). Whoever reads an
//! entry rebuilds the envelope with the entry's id and encodes the frame once.

use std::sync::Arc;

use redis::streams::StreamId;
use taskhub_core::frame::{envelope_tail, envelope_with_id};
use taskhub_core::{EventFrame, EventId, EventType, Timestamp, Topic};
use taskhub_store::NewEvent;

use crate::ClusterError;

/// The four values an event adds to the publish script's arguments.
pub(crate) fn fields(event: &NewEvent, timestamp: Timestamp) -> [String; 4] {
    [
        event.event_type.as_str().to_owned(),
        event.topic.as_ref().map_or("", Topic::as_str).to_owned(),
        if event.private { "1" } else { "0" }.to_owned(),
        envelope_tail(
            &event.event_type,
            event.topic.as_ref(),
            &event.data,
            timestamp,
        ),
    ]
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
    Ok(Arc::new(EventFrame::new(
        id, event_type, topic, private, &envelope,
    )))
}

#[cfg(test)]
mod tests {
    use redis::Value;
    use taskhub_core::frame::envelope_json;

    use super::*;

    #[test]
    fn an_entry_becomes_the_frame_a_single_node_would_encode() {
        let event = NewEvent {
            event_type: EventType::parse("task_updated").expect("valid"),
            topic: Some(Topic::parse("tasks/42").expect("valid")),
            private: true,
            data: serde_json::value::to_raw_value(&serde_json::json!({"status": "done"}))
                .expect("serialisable"),
        };
        let at = Timestamp::from_unix_millis(1_795_521_600_123);
        let [t, p, v, e] = fields(&event, at);
        let entry = StreamId {
            id: "17-0".into(),
            map: [("t", t), ("p", p), ("v", v), ("e", e)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::BulkString(v.into_bytes())))
                .collect(),
            ..StreamId::default()
        };
        let frame = frame(&entry).expect("readable");
        let id = EventId::new(17);
        let envelope = envelope_json(id, &event.event_type, event.topic.as_ref(), &event.data, at);
        let expected = EventFrame::new(id, event.event_type, event.topic, true, &envelope);
        assert_eq!(frame.typed(), expected.typed());
        assert!(frame.is_private());
        assert_eq!(frame.topic().map(Topic::as_str), Some("tasks/42"));
    }

    #[test]
    fn entry_ids_must_be_taskhubs() {
        assert_eq!(event_id("5-0").expect("ours"), EventId::new(5));
        for bad in ["5-1", "5", "x-0", "-0", "1700000000000-3"] {
            assert!(event_id(bad).is_err(), "{bad}");
        }
    }
}
