//! `POST /events` bodies: never a panic, and whatever is accepted encodes to clean frames.
#![no_main]

#[path = "../../crates/taskhub-core/tests/support/wire_check.rs"]
mod wire_check;

use libfuzzer_sys::fuzz_target;
use taskhub_core::frame::envelope_json;
use taskhub_core::{EventFrame, EventId, Timestamp};

fuzz_target!(|body: &[u8]| {
    let Some(events) = taskhub_server::fuzzing::publish_body(body) else {
        return;
    };
    for (n, event) in events.into_iter().enumerate() {
        let id = EventId::new(n as u64 + 1);
        let envelope = envelope_json(
            id,
            &event.event_type,
            event.topic.as_ref(),
            &event.data,
            Timestamp::now(),
        );
        let frame = EventFrame::new(id, event.event_type, event.topic, event.private, &envelope);
        wire_check::assert_clean(&frame.bytes(true));
        wire_check::assert_clean(&frame.bytes(false));
    }
});
