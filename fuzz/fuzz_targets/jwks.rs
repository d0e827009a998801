//! JWKS documents, as a key-set fetch reads them from an identity provider: never a
//! panic, and never more keys than the bound, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|document: &[u8]| {
    if let Some(keys) = taskhub_server::fuzzing::jwks(document) {
        assert!(
            (1..=taskhub_server::fuzzing::JWKS_MAX_KEYS).contains(&keys),
            "{keys} keys accepted"
        );
    }
});
