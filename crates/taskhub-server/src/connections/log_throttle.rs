//! At most one log line per interval for something that may happen many times a second
//! (an accept failing, the connection slots all taken). The first occurrence is logged at
//! once; later ones are counted, and the next line allowed carries their count.

use std::time::{Duration, Instant};

/// The shortest time between two lines about the same thing.
pub(super) const INTERVAL: Duration = Duration::from_secs(10);

/// When to log occurrences of one thing, and how many there were since the last line.
#[derive(Debug, Default)]
pub(super) struct LogThrottle {
    /// When the last line was logged; `None` before the first.
    last_line: Option<Instant>,
    /// Occurrences since that line.
    unlogged: u64,
}

impl LogThrottle {
    /// Counts one occurrence at `now`. Returns the occurrences to report (this one
    /// included) if a line may be logged now.
    pub(super) fn occurred(&mut self, now: Instant) -> Option<u64> {
        self.unlogged += 1;
        self.take_if_due(now)
    }

    /// Returns the occurrences not reported yet, if there are any and a line may be logged
    /// now: for a line saying that it stopped.
    pub(super) fn settle(&mut self, now: Instant) -> Option<u64> {
        if self.unlogged == 0 {
            return None;
        }
        self.take_if_due(now)
    }

    fn take_if_due(&mut self, now: Instant) -> Option<u64> {
        if self
            .last_line
            .is_some_and(|last| now.saturating_duration_since(last) < INTERVAL)
        {
            return None;
        }
        self.last_line = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_carrying_the_count_since_the_last() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut throttle = LogThrottle::default();
        assert_eq!(throttle.settle(at(0)), None, "nothing happened");
        assert_eq!(throttle.occurred(at(0)), Some(1));
        let within: Vec<_> = (1..200).map(|n| throttle.occurred(at(n * 50))).collect();
        assert!(within.iter().all(Option::is_none), "{within:?}");
        assert_eq!(throttle.settle(at(9_999)), None, "not yet due");
        assert_eq!(throttle.occurred(at(10_000)), Some(200));
        assert_eq!(throttle.occurred(at(10_001)), None);
        assert_eq!(throttle.settle(at(15_000)), None);
        assert_eq!(throttle.settle(at(20_000)), Some(1));
        assert_eq!(throttle.settle(at(40_000)), None, "all reported");
    }
}
