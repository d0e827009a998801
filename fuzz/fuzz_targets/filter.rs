//! `types` / `topics` query values: never a panic; matching an accepted filter never
//! panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use taskhub_core::{EventType, Filter, Topic};

fuzz_target!(|input: &str| {
    let (types, topics) = input.split_once('&').unwrap_or((input, ""));
    let Ok(filter) = Filter::parse(Some(types), (!topics.is_empty()).then_some(topics)) else {
        return;
    };
    let event_type = EventType::parse(types).unwrap_or_else(|_| EventType::task_updated());
    let _ = filter.matches(&event_type, Topic::parse(topics).ok().as_ref());
});
