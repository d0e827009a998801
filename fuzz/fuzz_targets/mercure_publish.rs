//! Mercure publish bodies (form-encoded): never a panic, and whatever is accepted encodes
//! to clean frames, both native and Mercure.
#![no_main]

#[path = "../../crates/taskhub-core/tests/support/wire_check.rs"]
mod wire_check;

use libfuzzer_sys::fuzz_target;
use taskhub_core::{EventId, Timestamp};

fuzz_target!(|body: &[u8]| {
    let Some(event) = taskhub_server::fuzzing::mercure_publish(body) else {
        return;
    };
    let fields = event.mercure.clone().expect("a Mercure publish has Mercure fields");
    let (_, frame) = event.commit(EventId::new(1), Timestamp::now());
    wire_check::assert_clean(&frame.bytes(true));
    wire_check::assert_clean(&frame.bytes(false));
    let event_line = fields.update_type.as_ref().map(|t| t.as_str());
    wire_check::assert_clean_mercure(&frame.mercure(), fields.id.as_str(), event_line);
});
