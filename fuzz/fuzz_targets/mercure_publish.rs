//! Mercure publish bodies (form-encoded): never a panic, and whatever is accepted encodes
//! to clean frames, both native and Mercure.
#![no_main]

#[path = "../../crates/taskhub-core/tests/support/wire_check.rs"]
mod wire_check;

use libfuzzer_sys::fuzz_target;
use taskhub_core::frame::envelope_json;
use taskhub_core::{EventFrame, EventId, Timestamp};

fuzz_target!(|body: &[u8]| {
    let Some(event) = taskhub_server::fuzzing::mercure_publish(body) else {
        return;
    };
    let id = EventId::new(1);
    let envelope = envelope_json(id, &event.event_type, event.topic.as_ref(), &event.data, Timestamp::now());
    let fields = event.mercure.clone().expect("a Mercure publish has Mercure fields");
    let frame = EventFrame::new(id, event.event_type, event.topic, event.private, &envelope)
        .with_mercure(event.mercure);
    wire_check::assert_clean(&frame.bytes(true));
    wire_check::assert_clean(&frame.bytes(false));
    let event_line = fields.update_type.as_ref().map(|t| t.as_str());
    wire_check::assert_clean_mercure(&frame.mercure(), fields.id.as_str(), event_line);
});
