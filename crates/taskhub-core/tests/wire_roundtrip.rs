//! Property test: every frame the encoder writes parses back, through an independent SSE
//! parser (`eventsource-stream`), into the same id, type and envelope, whatever the data.

#[path = "support/sse.rs"]
mod sse;

use proptest::prelude::*;
use serde_json::Value;
use sse::{nasty_string, parse};
use taskhub_core::frame::{KEEPALIVE, envelope_json, gap, preamble, reset};
use taskhub_core::{EventFrame, EventId, EventType, Timestamp, Topic};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(nasty_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event_type() -> impl Strategy<Value = EventType> {
    "[A-Za-z0-9_.:-]{1,64}".prop_map(|s| EventType::parse(&s).expect("strategy yields valid types"))
}

fn topic() -> impl Strategy<Value = Option<Topic>> {
    prop::option::of("[^\\p{Cc}]{1,40}".prop_map(|s| Topic::parse(&s).expect("valid topic")))
}

proptest! {
    #[test]
    fn event_frames_round_trip(
        raw_ids in prop::collection::vec(any::<u64>(), 1..4),
        event_type in event_type(),
        topic in topic(),
        data in json_value(),
        typed in any::<bool>(),
        chunk in 1usize..64,
    ) {
        let mut wire = preamble(1500, "client", typed).to_vec();
        let mut sent = Vec::new();
        let raw_data = serde_json::value::to_raw_value(&data).expect("serialisable");
        for raw in &raw_ids {
            let id = EventId::new(*raw);
            let envelope = envelope_json(id, &event_type, topic.as_ref(), &raw_data, Timestamp::now());
            let frame = EventFrame::new(id, event_type.clone(), topic.clone(), false, &envelope);
            wire.extend_from_slice(&frame.bytes(typed));
            wire.extend_from_slice(KEEPALIVE);
            sent.push((id, envelope));
        }
        wire.extend_from_slice(&reset("x\r\ny", typed));
        wire.extend_from_slice(&gap(EventId::new(3), EventId::new(9), typed));

        let events = parse(wire, chunk);
        prop_assert_eq!(events.len(), sent.len() + 3);
        let connected = &events[0];
        prop_assert_eq!(connected.id.as_str(), "");
        prop_assert_eq!(connected.event.as_str(), if typed { "connected" } else { "message" });
        prop_assert_eq!(connected.retry, Some(std::time::Duration::from_millis(1500)));
        for (event, (id, envelope)) in events[1..].iter().zip(&sent) {
            prop_assert_eq!(&event.id, &id.to_string());
            let expected_type = if typed { event_type.as_str() } else { "message" };
            prop_assert_eq!(event.event.as_str(), expected_type);
            prop_assert_eq!(&event.data, envelope);
            let parsed: Value = serde_json::from_str(&event.data).expect("data is JSON");
            prop_assert_eq!(&parsed["data"], &data);
            prop_assert_eq!(&parsed["id"], &Value::String(id.to_string()));
        }
        let reset_event = &events[sent.len() + 1];
        let reset_data: Value = serde_json::from_str(&reset_event.data).expect("JSON");
        prop_assert_eq!(&reset_data["last_event_id"], "x\r\ny");
        // Control events carry no id, so the client's last id stays at the last real event.
        prop_assert_eq!(&reset_event.id, &sent.last().map(|(id, _)| id.to_string()).unwrap_or_default());
    }
}
