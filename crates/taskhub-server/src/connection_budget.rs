//! The connection budget: how many client connections the process's open-file limit
//! leaves room for, and the reserve within it that keeps short requests (`/healthz`,
//! `/readyz`, `/metrics`, a publish) answered when streams have taken the rest.
//!
//! Each client connection takes a file descriptor, and an event stream keeps its
//! descriptor for as long as the subscriber stays connected. Without a budget, streams take
//! descriptors until `accept` fails with EMFILE. From then on the server answers nobody,
//! health checks included, and the accept loop can only retry. With a budget:
//!
//! - At start ([`ConnectionBudget::of_this_process`]) the budget is the soft
//!   `RLIMIT_NOFILE`, less the descriptors open then (stdio, the runtime's poller and
//!   wakers, the listener, the store's files), less a headroom for what the engines open
//!   later (the server passes it in; see `backend`).
//! - The accept loop takes a slot before it accepts ([`ConnectionBudget::room`]). When
//!   every slot is in use it stops accepting, and new connections wait in the listen
//!   backlog until one closes. So `accept` does not run out of descriptors, and neither
//!   does the store.
//! - The last `reserve` slots (a quarter, at most [`MAX_RESERVE`]) are for short
//!   requests. Once the open connections fill the rest, stream requests get 503 with
//!   `Retry-After`, as at `--max-clients` ([`ConnectionBudget::admits_stream`]). A
//!   connection accepted into the reserve is marked short ([`Slot::is_short`]): the
//!   accept loop serves its requests for a moment and then closes it. A reserve slot is
//!   held for a request, not for a keep-alive connection's idle time (a refused
//!   subscriber's browser would keep one).
//!
//! Why not the classic spare descriptor (keep `/dev/null` open, close it on EMFILE, accept
//! the pending connection and close that too)? It serves nobody: every client is told
//! "no" one at a time, health checks included. And whatever takes the freed descriptor
//! first (the next stream to reconnect, say) wins it. A budget of connections keeps the
//! descriptors for requests that give them back soon.
//!
//! The reserve check reads a count, so it is approximate at the edge: two stream requests
//! checked at the same moment may both pass. An HTTP/2 stream needs no descriptor of its
//! own, but it is refused in the reserve like any other stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::{info, warn};

use crate::metrics::METRICS;

/// The most slots kept for short requests: enough for a few health checkers, a metrics
/// scraper and publishers at once.
const MAX_RESERVE: usize = 32;

/// The smallest budget the server starts with.
const MIN_CAPACITY: usize = 8;

/// What the budget assumes is open at start when it cannot count (no `/proc/self/fd`
/// or `/dev/fd`): a little more than a fresh server has.
const ASSUMED_IN_USE: usize = 64;

/// Why the open-file limit leaves too little room to serve.
#[derive(Debug, thiserror::Error)]
#[error(
    "the open-file limit (ulimit -n) is {limit}: with {in_use} descriptors open at start \
     and {headroom} kept for the store, it leaves room for {capacity} client connections, \
     fewer than {MIN_CAPACITY}. Raise it (LimitNOFILE= in a systemd unit)"
)]
pub struct BudgetError {
    limit: u64,
    in_use: usize,
    headroom: usize,
    capacity: usize,
}

/// The client connections this process may hold open, and the count of those it does.
#[derive(Debug)]
pub(crate) struct ConnectionBudget {
    /// Client connections the process has descriptors for.
    capacity: usize,
    /// Slots, out of `capacity`, kept for short requests.
    reserve: usize,
    /// One permit per slot. The accept loop takes one before it accepts, so it waits
    /// instead of accepting past the budget; a connection returns it when it closes.
    slots: Arc<Semaphore>,
    /// Client connections open now. It is read to admit streams and to mark connections
    /// short, never to lock anything, so relaxed operations are enough.
    open: AtomicUsize,
}

impl ConnectionBudget {
    /// The budget the soft `RLIMIT_NOFILE` leaves, given the descriptors open now and the
    /// `headroom` the engines may still open.
    pub(crate) fn of_this_process(headroom: usize) -> Result<Self, BudgetError> {
        let limit = soft_open_file_limit();
        let in_use = descriptors_in_use().unwrap_or_else(|| {
            warn!(
                assumed = ASSUMED_IN_USE,
                "cannot count the open file descriptors"
            );
            ASSUMED_IN_USE
        });
        let budget = Self::new(limit, in_use, headroom)?;
        METRICS
            .connections_limit
            .set(i64::try_from(budget.capacity).unwrap_or(i64::MAX));
        info!(
            open_file_limit = limit,
            in_use,
            headroom,
            connections = budget.capacity,
            reserve = budget.reserve,
            "connection budget"
        );
        Ok(budget)
    }

    /// The budget under an open-file `limit` (`None`: unlimited) with `in_use`
    /// descriptors open and `headroom` kept for the engines.
    fn new(limit: Option<u64>, in_use: usize, headroom: usize) -> Result<Self, BudgetError> {
        let capacity = match limit {
            None => Semaphore::MAX_PERMITS,
            Some(limit) => usize::try_from(limit)
                .unwrap_or(usize::MAX)
                .saturating_sub(in_use)
                .saturating_sub(headroom)
                .min(Semaphore::MAX_PERMITS),
        };
        if capacity < MIN_CAPACITY {
            return Err(BudgetError {
                limit: limit.unwrap_or(u64::MAX),
                in_use,
                headroom,
                capacity,
            });
        }
        Ok(Self {
            capacity,
            reserve: (capacity / 4).min(MAX_RESERVE),
            slots: Arc::new(Semaphore::new(capacity)),
            open: AtomicUsize::new(0),
        })
    }

    /// The client connections the process has descriptors for.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The most connections that may hold streams: the budget without the reserve.
    pub(crate) fn stream_ceiling(&self) -> usize {
        self.capacity - self.reserve
    }

    /// Whether a stream may open on a connection that is already counted: no
    /// connection beyond the stream ceiling is open.
    pub(crate) fn admits_stream(&self) -> bool {
        self.open.load(Ordering::Relaxed) <= self.stream_ceiling()
    }

    /// Room for one more connection, if a slot is free now.
    pub(crate) fn try_room(&self) -> Option<Room> {
        Arc::clone(&self.slots).try_acquire_owned().ok().map(Room)
    }

    /// Room for one more connection, once a slot is free. `None` only if the slots were
    /// closed, which nothing does.
    pub(crate) async fn room(&self) -> Option<Room> {
        Arc::clone(&self.slots).acquire_owned().await.ok().map(Room)
    }
}

/// A free slot, taken before a connection is accepted.
#[derive(Debug)]
pub(crate) struct Room(OwnedSemaphorePermit);

impl Room {
    /// The slot of a connection just accepted: counted as open until it is dropped.
    pub(crate) fn occupy(self, budget: &Arc<ConnectionBudget>) -> Slot {
        let open = budget.open.fetch_add(1, Ordering::Relaxed) + 1;
        METRICS.connections_open.inc();
        Slot {
            budget: Arc::clone(budget),
            _permit: self.0,
            short: open > budget.stream_ceiling(),
        }
    }
}

/// An open connection's place in the budget, held for as long as the connection is.
#[derive(Debug)]
pub(crate) struct Slot {
    budget: Arc<ConnectionBudget>,
    /// The slot itself, returned when the connection closes.
    _permit: OwnedSemaphorePermit,
    /// Accepted into the reserve: served briefly, then closed.
    short: bool,
}

impl Slot {
    /// Whether the connection was accepted into the reserve.
    pub(crate) fn is_short(&self) -> bool {
        self.short
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.budget.open.fetch_sub(1, Ordering::Relaxed);
        METRICS.connections_open.dec();
    }
}

/// The soft `RLIMIT_NOFILE`; `None` when unlimited.
#[cfg(unix)]
fn soft_open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

/// Elsewhere no such limit is known: the budget is unbounded.
#[cfg(not(unix))]
fn soft_open_file_limit() -> Option<u64> {
    None
}

/// The descriptors this process has open, not counting the one used to list them.
fn descriptors_in_use() -> Option<usize> {
    ["/proc/self/fd", "/dev/fd"]
        .into_iter()
        .find_map(|dir| std::fs::read_dir(dir).ok())
        .map(|entries| entries.count().saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_the_limit_less_what_is_open_and_the_headroom() {
        let budget = ConnectionBudget::new(Some(1024), 20, 32).expect("room");
        assert_eq!(budget.capacity(), 972);
        assert_eq!(budget.reserve, MAX_RESERVE);
        assert_eq!(budget.stream_ceiling(), 940);

        let small = ConnectionBudget::new(Some(64), 15, 32).expect("room");
        assert_eq!(small.capacity(), 17);
        assert_eq!(small.reserve, 4);

        let unlimited = ConnectionBudget::new(None, 20, 32).expect("room");
        assert_eq!(unlimited.capacity(), Semaphore::MAX_PERMITS);
    }

    #[test]
    fn a_limit_that_leaves_too_little_room_is_refused() {
        let error = ConnectionBudget::new(Some(50), 15, 32).expect_err("too small");
        assert_eq!(error.capacity, 3);
        assert!(error.to_string().contains("ulimit -n) is 50"), "{error}");
        assert!(ConnectionBudget::new(Some(10), 15, 32).is_err());
    }

    #[test]
    fn connections_past_the_ceiling_are_short_and_refuse_streams() {
        let budget = Arc::new(ConnectionBudget::new(Some(40), 0, 0).expect("room"));
        assert_eq!((budget.capacity(), budget.reserve), (40, 10));
        let mut slots: Vec<Slot> = (0..30)
            .map(|_| budget.try_room().expect("a slot").occupy(&budget))
            .collect();
        assert!(slots.iter().all(|slot| !slot.is_short()));
        assert!(budget.admits_stream());

        slots.push(budget.try_room().expect("a reserve slot").occupy(&budget));
        assert!(slots.last().is_some_and(Slot::is_short));
        assert!(!budget.admits_stream());
        for _ in 31..40 {
            slots.push(budget.try_room().expect("a reserve slot").occupy(&budget));
        }
        assert!(budget.try_room().is_none(), "every slot is taken");

        slots.truncate(30);
        assert!(budget.admits_stream());
        assert!(budget.try_room().is_some());
    }

    #[test]
    fn this_process_has_a_limit_and_counts_its_descriptors() {
        let in_use = descriptors_in_use().expect("/proc/self/fd or /dev/fd");
        assert!(in_use >= 3, "stdio at least: {in_use}");
        let budget = ConnectionBudget::of_this_process(0).expect("room");
        assert!(budget.capacity() >= MIN_CAPACITY);
    }
}
