//! The hub: the live tail of the event log, and the permits for open streams.
//!
//! The store's writer pushes each committed frame into one `broadcast` ring; every
//! subscriber holds a receiver and reads at its own pace. Publishing is a non-blocking
//! push that never waits on any subscriber. The ring holds the last `--client-buffer`
//! frames: a receiver that falls further behind than that is told it lagged, which is
//! the slow-client signal (see `subscription`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use taskhub_core::EventFrame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

use crate::metrics::METRICS;

#[derive(Debug)]
pub(crate) struct Hub {
    /// Sender side of the live ring. `send` never blocks; it only fails when nobody
    /// listens, which is not an error.
    live: broadcast::Sender<Arc<EventFrame>>,
    /// One permit per open stream (`--max-clients`). A permit moves into the stream and
    /// is released when the stream is dropped, not when the response headers are sent.
    streams: Arc<Semaphore>,
    /// Numbers the connections for their `client_id`; only uniqueness matters.
    next_client: AtomicU64,
    /// Distinguishes this process's client ids from a previous run's.
    boot: u64,
}

impl Hub {
    pub(crate) fn new(client_buffer: usize, max_clients: usize) -> Self {
        let (live, _) = broadcast::channel(client_buffer.max(1));
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            live,
            streams: Arc::new(Semaphore::new(max_clients)),
            next_client: AtomicU64::new(1),
            boot,
        }
    }

    /// Called by the store's writer for each committed frame, in id order.
    pub(crate) fn publish(&self, frame: Arc<EventFrame>) {
        METRICS.events_published.inc();
        let _ = self.live.send(frame);
    }

    /// A receiver that sees every frame published from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<EventFrame>> {
        self.live.subscribe()
    }

    /// A stream permit, or `None` at the connection limit.
    pub(crate) fn admit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.streams).try_acquire_owned().ok()
    }

    pub(crate) fn new_client_id(&self) -> String {
        let n = self.next_client.fetch_add(1, Ordering::Relaxed);
        format!("{:x}-{n}", self.boot)
    }
}
