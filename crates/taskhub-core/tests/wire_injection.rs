//! Property test: no string the API accepts can put a line break inside an SSE field.
//! Whatever the event type, topic, data or resume id, every line on the wire is one of
//! the fields TaskHub means to write, and there is no `\r` at all.

#[path = "support/wire_check.rs"]
mod wire_check;

use proptest::prelude::*;
use serde_json::Value;
use taskhub_core::frame::{envelope_json, gap, preamble, reset};
use taskhub_core::mercure::{MercureFields, MercureTopic, UpdateId, UpdateType};
use taskhub_core::{EventFrame, EventId, EventType, Filter, Selector, Timestamp, Topic};

/// Any string, with a strong bias towards the characters that end lines somewhere.
fn hostile() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(vec!['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}', '\u{0}', '\u{b}', '\u{c}', ':', ' ']),
            1 => any::<char>(),
            2 => prop::char::range('a', 'z'),
        ],
        0..40,
    )
    .prop_map(String::from_iter)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn accepted_values_never_break_a_line(
        event_type in hostile(),
        topic in hostile(),
        data in hostile(),
        resume_id in hostile(),
        typed in any::<bool>(),
    ) {
        // Whatever the edge accepts goes on the wire; what it refuses never gets there.
        let event_type = EventType::parse(&event_type).unwrap_or_else(|_| EventType::task_updated());
        let topic = Topic::parse(&topic).ok();
        let data = serde_json::value::to_raw_value(&Value::String(data)).expect("JSON");
        let id = EventId::new(7);
        let envelope = envelope_json(id, &event_type, topic.as_ref(), &data, Timestamp::now());
        let frame = EventFrame::new(id, event_type, topic, false, &envelope);
        wire_check::assert_clean(&frame.bytes(typed));
        wire_check::assert_clean(&reset(&resume_id, typed));
        wire_check::assert_clean(&preamble(3000, &resume_id, typed));
        wire_check::assert_clean(&gap(EventId::new(1), EventId::new(2), typed));
    }

    #[test]
    fn accepted_mercure_fields_never_break_a_line(
        id in hostile(),
        update_type in hostile(),
        data in hostile(),
        retry in any::<Option<u64>>(),
    ) {
        // What a Mercure publish accepts; data is anything at all.
        let Ok(id) = UpdateId::parse(&id) else { return Ok(()) };
        let update_type = UpdateType::parse(&update_type).ok();
        let event_id = EventId::new(3);
        let event_type = EventType::message();
        let raw = serde_json::value::to_raw_value(&data).expect("JSON");
        let envelope = envelope_json(event_id, &event_type, None, &raw, Timestamp::now());
        let fields = MercureFields {
            id: id.clone(),
            topics: vec![MercureTopic::parse("t").expect("valid")],
            update_type: update_type.clone(),
            retry,
            data: data.into(),
        };
        let frame = EventFrame::new(event_id, event_type, None, false, &envelope).with_mercure(Some(fields));
        wire_check::assert_clean(&frame.bytes(true));
        wire_check::assert_clean_mercure(&frame.mercure(), id.as_str(), update_type.as_ref().map(UpdateType::as_str));
    }

    #[test]
    fn the_validators_refuse_every_line_break(value in hostile()) {
        let breaks = |s: &str| s.contains(['\n', '\r']);
        if EventType::parse(&value).is_ok() {
            prop_assert!(!breaks(&value) && !value.contains(char::is_whitespace));
        }
        if Topic::parse(&value).is_ok() || Selector::topic(&value).is_ok() {
            prop_assert!(!value.chars().any(char::is_control));
        }
        if Filter::parse(Some(&value), Some(&value)).is_ok() {
            prop_assert!(!breaks(&value));
        }
        let mercure_ok = UpdateId::parse(&value).is_ok()
            || UpdateType::parse(&value).is_ok()
            || MercureTopic::parse(&value).is_ok()
            || taskhub_core::mercure::TopicSelector::parse(&value).is_ok();
        if mercure_ok {
            prop_assert!(!value.chars().any(char::is_control));
        }
    }
}
