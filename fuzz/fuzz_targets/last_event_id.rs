//! `Last-Event-ID` values: never a panic, only canonical ids parse, and the `reset` that
//! echoes a bad one is a clean frame.
#![no_main]

#[path = "../../crates/taskhub-core/tests/support/wire_check.rs"]
mod wire_check;

use libfuzzer_sys::fuzz_target;
use taskhub_core::EventId;
use taskhub_core::frame::reset;

fuzz_target!(|id: &str| {
    if let Ok(parsed) = id.parse::<EventId>() {
        assert_eq!(parsed.to_string(), id, "only the canonical form parses");
    }
    wire_check::assert_clean(&reset(id, true));
});
