//! `POST /events` bodies: never a panic, and whatever is accepted encodes to clean frames.
#![no_main]

#[path = "../../crates/taskhub-core/tests/support/wire_check.rs"]
mod wire_check;

use libfuzzer_sys::fuzz_target;
use taskhub_core::{EventId, Timestamp};

fuzz_target!(|body: &[u8]| {
    let Some(events) = taskhub_server::fuzzing::publish_body(body) else {
        return;
    };
    for (n, event) in events.into_iter().enumerate() {
        let (_, frame) = event.commit(EventId::new(n as u64 + 1), Timestamp::now());
        wire_check::assert_clean(&frame.bytes(true));
        wire_check::assert_clean(&frame.bytes(false));
    }
});
