//! What the coordinator and its worker processes say to each other: JSON lines.
//!
//! ```text
//! coordinator ── Job ──────────────► worker      (stdin, first line)
//! coordinator ◄─ Progress … ──────── worker      (stdout, every `progress_ms`)
//! coordinator ── Stop { sent } ────► worker      (stdin)
//! coordinator ◄─ Report ──────────── worker      (stdout, last line; then it exits)
//! ```

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::target::Target;
use crate::tracker::Sent;

/// What a worker's connections do once connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Open an event stream and read it (or, when stalled, never read it).
    Subscriber,
    /// Send the start of a stream request's head, then a header line a second, never
    /// finishing it (slowloris): open until the server cuts it at its header timeout.
    SlowHead,
}

/// One worker's share of the subscribers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub target: Target,
    pub role: Role,
    /// Global index of this worker's first connection (source addresses and stalled
    /// connections are chosen by global index, so the split does not change them).
    pub first: usize,
    pub connections: usize,
    /// Source addresses, each used for `per_source` consecutive connections.
    pub sources: Vec<Ipv4Addr>,
    pub per_source: usize,
    /// New connections per second, for this worker.
    pub connect_rate: f64,
    /// Connection attempts this worker keeps in flight at most.
    pub connect_in_flight: usize,
    /// Extra attempts for a connection that fails to open (refused, non-200).
    pub retries: u32,
    /// Fraction of connections (spread evenly) that never read after connecting.
    pub stall_fraction: f64,
    /// `SO_RCVBUF` of a stalled connection, so the server feels it soon.
    pub stall_recv_buffer: u32,
    pub progress_ms: u64,
}

impl Job {
    /// The source address of connection `index` (global).
    pub fn source(&self, index: usize) -> Ipv4Addr {
        let slot = index / self.per_source.max(1);
        self.sources
            .get(slot)
            .or(self.sources.last())
            .copied()
            .unwrap_or(Ipv4Addr::LOCALHOST)
    }

    /// Whether connection `index` (global) is one of the stalled ones.
    pub fn stalls(&self, index: usize) -> bool {
        let f = self.stall_fraction;
        f > 0.0 && ((index + 1) as f64 * f).floor() > (index as f64 * f).floor()
    }
}

/// Coordinator to worker, after the job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// Publishing is over: count what each subscriber is missing, report, exit.
    Stop { sent: Vec<Sent> },
}

/// Counters a worker reports while it runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Streams open (response head and first bytes received).
    pub connected: usize,
    /// Of those, the ones that never read.
    pub stalled: usize,
    /// Connections that could not be opened.
    pub failed: usize,
    /// Streams the server ended (or broke) before the stop.
    pub closed: usize,
    /// Unique events delivered, over all reading streams.
    pub delivered: u64,
    /// The fewest unique events any open reading stream has received (`None` if there
    /// is no such stream).
    pub min_delivered: Option<u64>,
}

/// A worker's final account.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub progress: Progress,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// Acknowledged events missing below a later delivered one.
    pub lost: u64,
    /// Acknowledged events not delivered by the stop.
    pub late: u64,
    /// Events without a benchmark token (`connected`, keepalives sent as data, …).
    pub untokened: u64,
    /// Tokens that no publisher of this run could have sent.
    pub foreign: u64,
    /// Latency `(µs, count)` pairs of unique deliveries.
    pub latency: Vec<(u64, u64)>,
    pub first_delivery_micros: u64,
    pub last_delivery_micros: u64,
    /// Unique deliveries per wall-clock second: `(unix second, count)`.
    pub per_second: Vec<(u64, u64)>,
    pub bytes: u64,
    /// The first few distinct errors seen (connect failures, protocol errors).
    pub errors: Vec<String>,
}

/// Worker to coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    Progress(Progress),
    Report(Box<Report>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(stall_fraction: f64) -> Job {
        Job {
            target: Target::local(crate::target::Kind::Taskhub, 1),
            role: Role::Subscriber,
            first: 0,
            connections: 100,
            sources: vec![Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)],
            per_source: 10,
            connect_rate: 1.0,
            connect_in_flight: 1,
            retries: 0,
            stall_fraction,
            stall_recv_buffer: 4096,
            progress_ms: 100,
        }
    }

    #[test]
    fn stalls_the_requested_fraction_evenly() {
        let job = job(0.1);
        let stalled: Vec<usize> = (0..100).filter(|&i| job.stalls(i)).collect();
        assert_eq!(stalled.len(), 10);
        assert_eq!(stalled[..3], [9, 19, 29]);
        assert!(!(0..100).any(|i| self::job(0.0).stalls(i)));
    }

    #[test]
    fn spreads_sources_and_keeps_the_last_one() {
        let job = job(0.0);
        assert_eq!(job.source(9), Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(job.source(10), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(job.source(99), Ipv4Addr::new(127, 0, 0, 2));
    }
}
