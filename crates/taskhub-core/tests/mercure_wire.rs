//! Property test: every update a Mercure stream writes parses back, through an independent
//! SSE parser (`eventsource-stream`), into the publisher's id, type, retry and data (line
//! ends made `\n`, as SSE defines), whatever the data holds; and a native event into its
//! `#id` and envelope.

#[path = "support/sse.rs"]
mod sse;

use proptest::prelude::*;
use serde_json::value::to_raw_value;
use sse::{nasty_string, parse};
use taskhub_core::frame::{KEEPALIVE, envelope_json};
use taskhub_core::mercure::{MercureFields, MercureTopic, UpdateId, UpdateType};
use taskhub_core::{EventFrame, EventId, EventType, Timestamp, Topic};

fn update_id() -> impl Strategy<Value = UpdateId> {
    "[^\\p{Cc}#][^\\p{Cc}]{0,40}"
        .prop_filter("reserved", |id| id != "earliest")
        .prop_map(|id| UpdateId::parse(&id).expect("strategy yields valid ids"))
}

fn update_type() -> impl Strategy<Value = Option<UpdateType>> {
    prop::option::of("[^\\p{Cc}]{1,20}".prop_map(|t| UpdateType::parse(&t).expect("valid")))
}

/// An update as the Mercure publish commits it: its data a JSON string in the envelope,
/// and as published in its fields.
fn update(position: u64, fields: MercureFields) -> EventFrame {
    let id = EventId::new(position);
    let data = to_raw_value(&fields.data).expect("serialisable");
    let event_type = EventType::message();
    let envelope = envelope_json(id, &event_type, None, &data, Timestamp::now());
    EventFrame::new(id, event_type, None, false, &envelope).with_mercure(Some(fields))
}

proptest! {
    #[test]
    fn mercure_updates_round_trip(
        updates in prop::collection::vec(
            (update_id(), update_type(), prop::option::of(any::<u64>()), nasty_string()),
            1..4,
        ),
        chunk in 1usize..64,
    ) {
        let mut wire = b":\n".to_vec();
        for (position, (id, update_type, retry, data)) in updates.iter().enumerate() {
            let fields = MercureFields {
                id: id.clone(),
                topics: vec![MercureTopic::parse("https://example.com/t").expect("valid")],
                update_type: update_type.clone(),
                retry: *retry,
                data: data.as_str().into(),
            };
            wire.extend_from_slice(&update(position as u64 + 1, fields).mercure());
            wire.extend_from_slice(KEEPALIVE);
        }
        // A native event after them.
        let native_id = EventId::new(99);
        let native_data = to_raw_value(&serde_json::json!({"a": "b\nc"})).expect("serialisable");
        let topic = Topic::parse("tasks/1").expect("valid");
        let envelope = envelope_json(native_id, &EventType::task_updated(), Some(&topic), &native_data, Timestamp::now());
        let native = EventFrame::new(native_id, EventType::task_updated(), Some(topic), false, &envelope);
        wire.extend_from_slice(&native.mercure());

        let events = parse(wire, chunk);
        prop_assert_eq!(events.len(), updates.len() + 1);
        for (event, (id, update_type, retry, data)) in events.iter().zip(&updates) {
            prop_assert_eq!(event.id.as_str(), id.as_str());
            prop_assert_eq!(event.event.as_str(), update_type.as_ref().map_or("message", UpdateType::as_str));
            prop_assert_eq!(event.retry, retry.map(std::time::Duration::from_millis));
            let expected = data.replace("\r\n", "\n").replace('\r', "\n");
            prop_assert_eq!(&event.data, &expected);
        }
        let last = &events[updates.len()];
        prop_assert_eq!(last.id.as_str(), "#99");
        prop_assert_eq!(last.event.as_str(), "message");
        prop_assert_eq!(&last.data, &envelope);
    }
}
