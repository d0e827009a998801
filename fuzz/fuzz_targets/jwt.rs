//! Tokens: never a panic, and nothing made without the secret ever verifies (an
//! `alg: none`, a confused algorithm or a truncated signature would show up here).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|token: &str| {
    assert!(
        !taskhub_server::fuzzing::jwt(token),
        "a token verified without the secret: {token:?}"
    );
});
