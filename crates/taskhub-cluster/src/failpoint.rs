//! Crash points for the relay's tests: a test hook, compiled in always and inert unless
//! the environment variable `TASKHUB_FAILPOINT` names the point.
//!
//! `TASKHUB_FAILPOINT=relay-after-commit` aborts the process right after a task change
//! committed in PostgreSQL and before its event is appended to the stream;
//! `relay-after-xadd` right after the append and before the outbox row is deleted. The
//! tests use them to prove that another node's relay then yields exactly one event.

use std::sync::OnceLock;

/// The environment variable that arms a crash point.
pub const VARIABLE: &str = "TASKHUB_FAILPOINT";

/// A task change committed; its event is not in the stream yet.
pub const RELAY_AFTER_COMMIT: &str = "relay-after-commit";
/// An event is in the stream; its outbox row is not deleted yet.
pub const RELAY_AFTER_XADD: &str = "relay-after-xadd";

/// Aborts the process (no unwinding, no cleanup: a crash) if `name` is armed.
pub(crate) fn hit(name: &str) {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| std::env::var(VARIABLE).ok());
    if armed.as_deref() == Some(name) {
        eprintln!("{VARIABLE}={name}: aborting here, as asked");
        std::process::abort();
    }
}
