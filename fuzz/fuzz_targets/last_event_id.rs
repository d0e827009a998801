//! `Last-Event-ID` values: never a panic, only canonical ids parse, and the `reset` that
//! echoes a bad one is a clean frame.
#![no_main]

#[path = "wire.rs"]
mod wire;

use libfuzzer_sys::fuzz_target;
use taskhub_core::EventId;
use taskhub_core::frame::reset;

fuzz_target!(|id: &str| {
    if let Ok(parsed) = id.parse::<EventId>() {
        assert_eq!(parsed.to_string(), id, "only the canonical form parses");
    }
    wire::assert_clean(&reset(id, true));
});
