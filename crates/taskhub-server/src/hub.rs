//! The hub: the live tail of the event log, and the permits for open streams.
//!
//! The commit sink (the store's writer thread, or the Redis reader) pushes each committed
//! frame into one `broadcast` ring; every subscriber holds a receiver and reads at its
//! own pace. Publishing is a non-blocking push that never waits on any subscriber. The
//! ring holds the last `--client-buffer` frames: a receiver that falls further behind
//! than that is told it lagged, which is the slow-client signal (see `subscription`).
//!
//! Shutdown closes the ring ([`Hub::close`], once every acknowledged frame is in it):
//! each receiver then gets what the ring still holds for it and `Closed`, so streams end
//! at a frame boundary without any of them polling the cancellation token on every
//! wake-up (its mutex, taken that often by 10,000 streams, was 11 % of the profile).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use taskhub_core::EventFrame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

use crate::metrics::METRICS;

type Ring = broadcast::Sender<Arc<EventFrame>>;

#[derive(Debug)]
pub(crate) struct Hub {
    /// Sender side of the live ring, `None` once closed. `send` never blocks; it only
    /// fails when nobody listens, which is not an error. Read-locked to push and to
    /// subscribe, so neither waits for the other; write-locked once, to close.
    live: RwLock<Option<Ring>>,
    /// One permit per open stream (`--max-clients`). A permit moves into the stream and
    /// is released when the stream is dropped, not when the response headers are sent.
    streams: Arc<Semaphore>,
    /// Numbers the connections for their `client_id`; only uniqueness matters.
    next_client: AtomicU64,
    /// Distinguishes this process's client ids from a previous run's.
    boot: u64,
    /// The newest id the hub was handed (webhooks report their lag against it): one
    /// relaxed store per event, read now and then.
    newest: AtomicU64,
}

impl Hub {
    pub(crate) fn new(client_buffer: usize, max_clients: usize) -> Self {
        let (live, _) = broadcast::channel(client_buffer.max(1));
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            live: RwLock::new(Some(live)),
            streams: Arc::new(Semaphore::new(max_clients)),
            next_client: AtomicU64::new(1),
            boot,
            newest: AtomicU64::new(0),
        }
    }

    /// Called by the commit sink for each committed frame, in id order.
    pub(crate) fn publish(&self, frame: Arc<EventFrame>) {
        METRICS.events_published.inc();
        self.newest.store(frame.id().get(), Ordering::Relaxed);
        let ring = self.live.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(live) = &*ring {
            let _ = live.send(frame);
        }
    }

    /// A receiver that sees every frame published from now on; already closed once the
    /// hub is.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<EventFrame>> {
        let ring = self.live.read().unwrap_or_else(PoisonError::into_inner);
        match &*ring {
            Some(live) => live.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Closes the ring: every stream ends once it has what the ring holds for it.
    pub(crate) fn close(&self) {
        let mut ring = self.live.write().unwrap_or_else(PoisonError::into_inner);
        drop(ring.take());
    }

    /// A stream permit, or `None` at the connection limit.
    pub(crate) fn admit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.streams).try_acquire_owned().ok()
    }

    /// The newest event id handed to the hub since start (zero before the first).
    pub(crate) fn newest(&self) -> taskhub_core::EventId {
        taskhub_core::EventId::new(self.newest.load(Ordering::Relaxed))
    }

    pub(crate) fn new_client_id(&self) -> String {
        let n = self.next_client.fetch_add(1, Ordering::Relaxed);
        format!("{:x}-{n}", self.boot)
    }
}

#[cfg(test)]
mod tests {
    use taskhub_core::{EventId, EventType};
    use tokio::sync::broadcast::error::RecvError;

    use super::*;

    fn frame(id: u64) -> Arc<EventFrame> {
        let event_type = EventType::parse("test.event").expect("a valid type");
        Arc::new(EventFrame::new(
            EventId::new(id),
            event_type,
            None,
            false,
            "{}",
        ))
    }

    #[tokio::test]
    async fn closing_ends_each_receiver_after_what_the_ring_holds_for_it() {
        let hub = Hub::new(8, 1);
        let mut behind = hub.subscribe();
        hub.publish(frame(1));
        hub.publish(frame(2));
        hub.close();
        hub.publish(frame(3));
        let received = [behind.recv().await, behind.recv().await];
        let ids: Vec<u64> = received.iter().flatten().map(|f| f.id().get()).collect();
        assert_eq!(ids, [1, 2]);
        assert!(matches!(behind.recv().await, Err(RecvError::Closed)));
        assert!(matches!(
            hub.subscribe().recv().await,
            Err(RecvError::Closed)
        ));
    }
}
