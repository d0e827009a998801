//! Taking the next connection off the listener, within the connection budget
//! (`connection_budget`), and what the accept loop does when it cannot: wait for a slot,
//! or back off while `accept` finds no descriptor. Either is logged at most once per
//! interval (`log_throttle`), with the count since the last line, and counted in a metric.
//!
//! When every slot is in use, the loop does not call `accept`: connections wait in the
//! listen backlog (the kernel completes their handshakes) until one closes.
//!
//! `accept` failing with EMFILE or ENFILE (no descriptor for the new socket), ENOBUFS or
//! ENOMEM leaves the connection in the backlog and the listener readable, so retrying at
//! once would spin (and log each failure: the 20 lines a second an operator saw). The
//! loop sleeps instead, 5 ms at first and twice as long each time up to 1 s, and starts
//! from 5 ms again once an accept succeeds. With the budget this happens only when
//! something else took the descriptors: the engines opening more than their headroom, the
//! whole system's table being full (ENFILE), or the limit lowered while the server runs.
//! Other errors (ECONNABORTED: the client left before it was accepted, …) concern one
//! connection, and the next is accepted at once.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::log_throttle::LogThrottle;
use crate::connection_budget::{ConnectionBudget, Room, Slot};
use crate::metrics::METRICS;

/// The first pause after a failed accept.
const FIRST_PAUSE: Duration = Duration::from_millis(5);

/// The longest pause: how late, at worst, accepting resumes once descriptors are free.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// The listener, with the budget its connections take slots from.
#[derive(Debug)]
pub(crate) struct Acceptor {
    listener: TcpListener,
    budget: Arc<ConnectionBudget>,
    /// How long to sleep after the next failed accept.
    pause: Duration,
    /// Accepts that failed for lack of descriptors.
    failures: LogThrottle,
    /// Times the loop waited for a slot.
    waits: LogThrottle,
}

impl Acceptor {
    pub(crate) fn new(listener: TcpListener, budget: Arc<ConnectionBudget>) -> Self {
        Self {
            listener,
            budget,
            pause: FIRST_PAUSE,
            failures: LogThrottle::default(),
            waits: LogThrottle::default(),
        }
    }

    /// The next connection, with its peer's address and its slot; `None` once `stop`
    /// is cancelled.
    pub(super) async fn next(
        &mut self,
        stop: &CancellationToken,
    ) -> Option<(TcpStream, SocketAddr, Slot)> {
        let room = self.room(stop).await?;
        loop {
            let accepted = tokio::select! {
                () = stop.cancelled() => return None,
                accepted = self.listener.accept() => accepted,
            };
            match accepted {
                Ok((tcp, peer)) => {
                    self.accepted();
                    return Some((tcp, peer, room.occupy(&self.budget)));
                }
                Err(e) if out_of_descriptors(&e) => {
                    self.failed(&e);
                    tokio::select! {
                        () = stop.cancelled() => return None,
                        () = tokio::time::sleep(self.pause) => {}
                    }
                    self.pause = (self.pause * 2).min(LONGEST_PAUSE);
                }
                Err(e) => debug!(error = %e, "accept failed for one connection"),
            }
        }
    }

    /// A free slot, waiting for one if every slot is in use.
    async fn room(&mut self, stop: &CancellationToken) -> Option<Room> {
        if let Some(room) = self.budget.try_room() {
            return Some(room);
        }
        METRICS.connections_deferred.inc();
        if let Some(times) = self.waits.occurred(Instant::now()) {
            warn!(
                connections = self.budget.capacity(),
                times,
                "every connection slot the open-file limit allows is in use: new connections \
                 wait in the backlog until one closes"
            );
        }
        tokio::select! {
            () = stop.cancelled() => None,
            room = self.budget.room() => room,
        }
    }

    fn failed(&mut self, error: &io::Error) {
        METRICS.accept_out_of_descriptors.inc();
        if let Some(failures) = self.failures.occurred(Instant::now()) {
            warn!(
                %error,
                failures,
                "accept failed for lack of file descriptors; backing off"
            );
        }
    }

    fn accepted(&mut self) {
        self.pause = FIRST_PAUSE;
        if let Some(failures) = self.failures.settle(Instant::now()) {
            info!(
                failures,
                "accepting again after accepts failed for lack of file descriptors"
            );
        }
    }
}

/// Whether `accept` failed because the process or the system ran out of descriptors or
/// memory, rather than because of the one connection.
#[cfg(unix)]
fn out_of_descriptors(error: &io::Error) -> bool {
    use rustix::io::Errno;
    Errno::from_io_error(error).is_some_and(|errno| {
        [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM].contains(&errno)
    })
}

/// Elsewhere the causes are not told apart: every failure backs off, in case it is one.
#[cfg(not(unix))]
fn out_of_descriptors(_: &io::Error) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn only_running_out_of_descriptors_or_memory_backs_off() {
        use rustix::io::Errno;
        let error = |errno: Errno| io::Error::from_raw_os_error(errno.raw_os_error());
        for errno in [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM] {
            assert!(out_of_descriptors(&error(errno)), "{errno}");
        }
        for errno in [
            Errno::CONNABORTED,
            Errno::PROTO,
            Errno::PERM,
            Errno::CONNRESET,
        ] {
            assert!(!out_of_descriptors(&error(errno)), "{errno}");
        }
    }
}
