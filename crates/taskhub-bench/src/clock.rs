//! The clock every timestamp of a run is read from: microseconds since the Unix epoch.
//!
//! Publisher and subscribers may live in different processes, so latency needs a clock
//! that all of them share: the machine's wall clock (vDSO `clock_gettime`, cheap).

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
