//! Mercure topic selectors (`topic=` and the `mercure` claim), URI templates included:
//! never a panic, and matching an accepted selector against any topic never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use taskhub_core::mercure::{ResumePoint, TopicSelector};

fuzz_target!(|input: &str| {
    let (selector, topic) = input.split_once('\n').unwrap_or((input, input));
    if let Ok(selector) = TopicSelector::parse(selector) {
        let _ = selector.matches(topic);
        assert!(selector.matches(selector.as_str()), "a selector matches itself");
    }
    let _ = ResumePoint::parse(input);
});
