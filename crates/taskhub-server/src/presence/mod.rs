//! Presence: who has a stream open on which `topics=` selector, and the
//! `presence.join` / `presence.leave` events on `$presence/<selector>` that say so.
//!
//! ```text
//!  stream opens ──► Presences::track ──► PresenceGuard (held by the Subscription)
//!        │               │ Op::Open (an unbounded channel: a push, never a wait)
//!        ▼               ▼
//!  stream ends ──► guard dropped ──► Op::Close ──► bookkeeping task (`task`)
//!                                                   │ batches of ops, sweeps, heartbeats
//!                                                   ▼
//!                                  the engine's presence (`store`: a Ledger, or Redis)
//!                                                   │ joins and due leaves
//!                                                   ▼
//!                                  EventLog::publish: events like any other
//! ```
//!
//! Bookkeeping happens at connect and disconnect only, off the stream's path: a stream
//! never waits on it, and fan-out never sees it. Each stream sends exactly one open and
//! one close per selector, so the channel holds at most what `--max-clients` streams
//! send. The rule (members per selector and identity, the grace period) is
//! `taskhub_engine::presence`'s.

mod guard;
mod store;
mod task;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use taskhub_core::{Selector, Timestamp};
use taskhub_engine::EngineError;
use taskhub_engine::presence::{Listing, Op, Presence};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::backend::EventLog;
use crate::config::Config;
pub(crate) use guard::PresenceGuard;
use store::PresenceStore;

/// How long shutdown waits for the bookkeeping task to apply what is queued and to
/// announce (single node) or hand over (cluster) its members.
const FINISH_WITHIN: Duration = Duration::from_secs(5);

/// What a stream asks to be present with: its filter's topic selectors and its subject.
#[derive(Debug)]
pub(crate) struct Attendance {
    pub(crate) selectors: Vec<Selector>,
    pub(crate) subject: Option<String>,
}

/// This node's presence: the handle streams and `GET /presence` use.
#[derive(Debug)]
pub(crate) struct Presences {
    /// Opens and closes for the bookkeeping task; unbounded, since each stream sends one
    /// open and one close per selector and streams are bounded by `--max-clients`.
    ops: mpsc::UnboundedSender<Op>,
    store: PresenceStore,
    /// Ends the bookkeeping task, once the streams have ended.
    stop: CancellationToken,
    /// The bookkeeping task, awaited (within [`FINISH_WITHIN`]) at shutdown.
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Presences {
    /// Starts the bookkeeping task on the engine `events` is (a Ledger on SQLite, Redis in
    /// cluster mode).
    pub(crate) fn start(config: &Config, events: &EventLog) -> Arc<Self> {
        let node = node_name();
        let store = PresenceStore::new(events, node, config.presence_grace, config.presence_ttl);
        let (ops, received) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let task = tokio::spawn(task::Bookkeeper::new(store.clone(), events.clone()).run(
            received,
            stop.clone(),
            task::Timing::new(config.presence_grace, config.presence_ttl),
        ));
        Arc::new(Self {
            ops,
            store,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// Makes a stream present on each of its selectors that can have presence; the guard
    /// makes it leave when dropped. `None` when no selector can.
    pub(crate) fn track(&self, attendance: Attendance, client_id: &str) -> Option<PresenceGuard> {
        let present = Presence::of_stream(
            &attendance.selectors,
            attendance.subject.as_deref(),
            client_id,
            Timestamp::now(),
        );
        if present.is_empty() {
            return None;
        }
        for presence in &present {
            // Fails only once the task has stopped, at the very end of shutdown.
            let _ = self.ops.send(Op::Open(presence.clone()));
        }
        Some(PresenceGuard::new(self.ops.clone(), present))
    }

    /// Each selector's members and open streams (cluster-wide in cluster mode).
    pub(crate) async fn list(&self, selectors: &[String]) -> Result<Vec<Listing>, EngineError> {
        self.store.list(selectors).await
    }

    /// At shutdown, once the streams have ended: applies what is queued, then announces
    /// every member's leave (single node) or hands them to the cluster's grace periods
    /// (cluster mode), within [`FINISH_WITHIN`].
    pub(crate) async fn finish(&self) {
        self.stop.cancel();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && tokio::time::timeout(FINISH_WITHIN, task).await.is_err()
        {
            warn!(
                "presence did not finish within {FINISH_WITHIN:?}; its members are left to the grace and TTL"
            );
        }
    }
}

/// A name for this process, unique in the cluster: its pid and a random number.
fn node_name() -> String {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new().hash_one(std::process::id());
    format!("{}-{:08x}", std::process::id(), random & 0xffff_ffff)
}
