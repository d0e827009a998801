//! What one subscriber has seen: deliveries, duplicates and reordering as events arrive,
//! then losses once the publishers say what they sent.
//!
//! Each publisher numbers its events 0, 1, 2, … and sends them one request at a time,
//! so a correct server delivers each publisher's events once and in order. Per publisher
//! the tracker keeps a bit per sequence number and the highest number seen:
//! - a number seen before is a **duplicate**;
//! - a new number below the highest seen arrived **out of order** (it still counts as
//!   delivered);
//! - at the end, a number never seen *below* the highest seen is **lost** (later events
//!   got through, this one never will), and one *above* it is **late** (not delivered by
//!   the deadline: the subscriber fell behind, or was cut off).

use serde::{Deserialize, Serialize};

use crate::token::Token;

/// Publishers a tracker accepts; a token naming another counts as foreign.
pub const MAX_PUBLISHERS: u32 = 4096;
/// Highest sequence number accepted (bounds the bitmap's memory).
pub const MAX_SEQ: u64 = 1 << 28;

/// What one publisher sent: sequence numbers `0..count`, of which the `unacked` ones
/// (sorted) were not acknowledged by the server and so are not owed to anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub count: u64,
    pub unacked: Vec<u64>,
}

/// How one arriving event was classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// First time seen, in order.
    New,
    /// First time seen, but after a later event of the same publisher.
    NewOutOfOrder,
    /// Seen before.
    Duplicate,
    /// Not a token this run could have sent.
    Foreign,
}

impl Outcome {
    /// Whether the event counts as a (unique) delivery.
    pub fn is_new(self) -> bool {
        matches!(self, Self::New | Self::NewOutOfOrder)
    }
}

/// Events owed but not seen, once the publishers are done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Missing {
    pub lost: u64,
    pub late: u64,
}

/// What one subscriber saw of one publisher. Events usually arrive in order, so the
/// common case touches `next` alone: with 10,000 subscribers a bitmap word per event is a
/// cache miss per event, and the load generator shares the machine with the server.
#[derive(Debug, Default)]
struct Seen {
    /// Every number below this was seen.
    next: u64,
    /// Numbers above `next` seen out of turn, a bit each (indexed by number); a bit is
    /// cleared as `next` passes it.
    ahead: Vec<u64>,
    /// How many bits of `ahead` are set.
    ahead_count: u64,
    /// The highest number seen.
    max: Option<u64>,
}

impl Seen {
    fn has(&self, seq: u64) -> bool {
        seq < self.next || self.ahead_bit(seq)
    }

    fn ahead_bit(&self, seq: u64) -> bool {
        let word = usize::try_from(seq / 64).unwrap_or(usize::MAX);
        self.ahead
            .get(word)
            .is_some_and(|w| w & (1 << (seq % 64)) != 0)
    }

    /// Marks `seq` seen; false if it already was.
    fn insert(&mut self, seq: u64) -> bool {
        if seq < self.next {
            return false;
        }
        if seq == self.next && self.ahead_count == 0 {
            self.next += 1;
            return true;
        }
        let word = usize::try_from(seq / 64).unwrap_or(usize::MAX);
        if self.ahead.len() <= word {
            self.ahead.resize((word + 1).next_power_of_two(), 0);
        }
        let bit = 1u64 << (seq % 64);
        if self.ahead[word] & bit != 0 {
            return false;
        }
        if seq > self.next {
            self.ahead[word] |= bit;
            self.ahead_count += 1;
            return true;
        }
        self.next += 1;
        while self.ahead_count > 0 && self.ahead_bit(self.next) {
            let word = usize::try_from(self.next / 64).unwrap_or(usize::MAX);
            self.ahead[word] &= !(1u64 << (self.next % 64));
            self.ahead_count -= 1;
            self.next += 1;
        }
        true
    }
}

/// One subscriber's record of what it received.
#[derive(Debug, Default)]
pub struct Tracker {
    publishers: Vec<Seen>,
    pub unique: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub foreign: u64,
}

impl Tracker {
    /// Records one arriving event.
    pub fn record(&mut self, token: &Token) -> Outcome {
        if token.publisher >= MAX_PUBLISHERS || token.seq >= MAX_SEQ {
            self.foreign += 1;
            return Outcome::Foreign;
        }
        let p = token.publisher as usize;
        if self.publishers.len() <= p {
            self.publishers.resize_with(p + 1, Seen::default);
        }
        let seen = &mut self.publishers[p];
        if !seen.insert(token.seq) {
            self.duplicates += 1;
            return Outcome::Duplicate;
        }
        self.unique += 1;
        match seen.max {
            Some(max) if token.seq < max => {
                self.out_of_order += 1;
                Outcome::NewOutOfOrder
            }
            _ => {
                seen.max = Some(token.seq);
                Outcome::New
            }
        }
    }

    /// Counts the acknowledged events this subscriber never saw.
    pub fn missing(&self, sent: &[Sent]) -> Missing {
        let empty = Seen::default();
        let mut missing = Missing::default();
        for (p, sent) in sent.iter().enumerate() {
            let seen = self.publishers.get(p).unwrap_or(&empty);
            for seq in 0..sent.count {
                if seen.has(seq) || sent.unacked.binary_search(&seq).is_ok() {
                    continue;
                }
                if seen.max.is_some_and(|max| seq < max) {
                    missing.lost += 1;
                } else {
                    missing.late += 1;
                }
            }
        }
        missing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(publisher: u32, seq: u64) -> Token {
        Token {
            publisher,
            seq,
            sent_micros: 0,
        }
    }

    #[test]
    fn classifies_duplicates_reordering_loss_and_lateness() {
        let mut tracker = Tracker::default();
        let outcomes: Vec<Outcome> = [0, 1, 3, 2, 2, 5, 7]
            .iter()
            .map(|&s| tracker.record(&token(0, s)))
            .collect();
        use Outcome::*;
        assert_eq!(
            outcomes,
            [New, New, New, NewOutOfOrder, Duplicate, New, New]
        );
        assert_eq!(tracker.unique, 6);
        assert_eq!(tracker.duplicates, 1);
        assert_eq!(tracker.out_of_order, 1);
        // Sent 0..10, 6 unacknowledged: 4 lost (below 7), 6 and 9 late-or-unacked.
        let sent = [Sent {
            count: 10,
            unacked: vec![6],
        }];
        assert_eq!(tracker.missing(&sent), Missing { lost: 1, late: 2 });
    }

    #[test]
    fn numbers_seen_out_of_turn_are_remembered_until_the_gap_fills() {
        let mut tracker = Tracker::default();
        for seq in [0, 3, 5, 1, 2, 4, 6] {
            assert!(tracker.record(&token(0, seq)).is_new(), "{seq}");
        }
        for seq in 0..7 {
            assert_eq!(tracker.record(&token(0, seq)), Outcome::Duplicate, "{seq}");
        }
        assert_eq!(tracker.record(&token(0, 200)), Outcome::New);
        assert_eq!(tracker.record(&token(0, 200)), Outcome::Duplicate);
        assert_eq!(tracker.record(&token(0, 7)), Outcome::NewOutOfOrder);
        let sent = [Sent {
            count: 201,
            unacked: vec![],
        }];
        // 8..200 never came, and 200 did: all lost.
        assert_eq!(tracker.missing(&sent), Missing { lost: 192, late: 0 });
        assert_eq!(tracker.unique, 9);
    }

    #[test]
    fn keeps_publishers_apart_and_rejects_foreign_tokens() {
        let mut tracker = Tracker::default();
        assert_eq!(tracker.record(&token(1, 0)), Outcome::New);
        assert_eq!(tracker.record(&token(0, 0)), Outcome::New);
        assert_eq!(tracker.record(&token(MAX_PUBLISHERS, 0)), Outcome::Foreign);
        assert_eq!(tracker.record(&token(0, MAX_SEQ)), Outcome::Foreign);
        let sent = [
            Sent {
                count: 1,
                unacked: vec![],
            },
            Sent {
                count: 2,
                unacked: vec![],
            },
            Sent {
                count: 1,
                unacked: vec![],
            },
        ];
        assert_eq!(tracker.missing(&sent), Missing { lost: 0, late: 2 });
    }
}
