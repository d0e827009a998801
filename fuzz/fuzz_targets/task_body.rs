//! `POST /tasks` and `PATCH /tasks/{id}` bodies: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = taskhub_server::fuzzing::task_bodies(body);
});
