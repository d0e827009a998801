//! The hub: the live tail of the event log, and the permits for open streams.
//!
//! The commit sink (the store's writer thread, or the Redis reader) pushes the frames
//! committed together into one `broadcast` ring, as [`FrameGroup`]s of at most
//! [`GROUP_BYTES`]; every subscriber holds a receiver and reads at its own pace.
//! Publishing is a non-blocking push that never waits on any subscriber. A subscriber
//! pays for each item it takes (the slot's lock, the item's reference count), so one
//! item per group rather than per frame is that much less shared memory written per
//! event by every stream.
//!
//! A subscriber is slow when more than `--client-buffer` frames wait in the ring behind
//! what it reads ([`Live::behind`]), or when the ring, which holds that many groups,
//! moved past it: either way it is told it lagged, which is the slow-client signal (see
//! `subscription`).
//!
//! Shutdown closes the ring ([`Hub::close`], once every acknowledged frame is in it):
//! each receiver then gets what the ring still holds for it and `Closed`, so streams end
//! at a frame boundary without any of them polling the cancellation token on every
//! wake-up (its mutex, taken that often by 10,000 streams, was 11 % of the profile).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use taskhub_core::{EventFrame, FrameGroup};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

use crate::metrics::METRICS;

/// Most bytes of frames in one ring item (a larger frame is an item of its own). Bounds
/// what one lagging subscriber's unread item keeps in memory.
const GROUP_BYTES: usize = 64 * 1024;

type Ring = broadcast::Sender<Arc<FrameGroup>>;

#[derive(Debug)]
pub(crate) struct Hub {
    /// Sender side of the live ring, `None` once closed. `send` never blocks; it only
    /// fails when nobody listens, which is not an error. Read-locked to push and to
    /// subscribe, so neither waits for the other; write-locked once, to close.
    live: RwLock<Option<Ring>>,
    /// Frames pushed to the ring so far. Written only by the commit sink (one thread or
    /// task at a time), before the group it counts is sent; read by subscribers to tell
    /// how far behind they are.
    pushed: Arc<AtomicU64>,
    /// One permit per open stream (`--max-clients`). A permit moves into the stream and
    /// is released when the stream is dropped, not when the response headers are sent.
    streams: Arc<Semaphore>,
    /// Numbers the connections for their `client_id`; only uniqueness matters.
    next_client: AtomicU64,
    /// Distinguishes this process's client ids from a previous run's.
    boot: u64,
    /// The newest id the hub was handed (webhooks report their lag against it): one
    /// relaxed store per commit, read now and then.
    newest: AtomicU64,
}

/// A stream's end of the ring: every group pushed after it was taken.
#[derive(Debug)]
pub(crate) struct Live {
    receiver: broadcast::Receiver<Arc<FrameGroup>>,
    pushed: Arc<AtomicU64>,
}

impl Live {
    pub(crate) async fn recv(&mut self) -> Result<Arc<FrameGroup>, RecvError> {
        self.receiver.recv().await
    }

    /// The next group if one is waiting, without waiting for one.
    pub(crate) fn try_recv(&mut self) -> Result<Arc<FrameGroup>, TryRecvError> {
        self.receiver.try_recv()
    }

    /// How many frames were pushed after `group`: what waits in the ring behind it.
    pub(crate) fn behind(&self, group: &FrameGroup) -> u64 {
        self.pushed
            .load(Ordering::Relaxed)
            .saturating_sub(group.end_seq())
    }
}

impl Hub {
    pub(crate) fn new(client_buffer: usize, max_clients: usize) -> Self {
        let (live, _) = broadcast::channel(client_buffer.max(1));
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            live: RwLock::new(Some(live)),
            pushed: Arc::new(AtomicU64::new(0)),
            streams: Arc::new(Semaphore::new(max_clients)),
            next_client: AtomicU64::new(1),
            boot,
            newest: AtomicU64::new(0),
        }
    }

    /// Called by the commit sink with the frames committed together, in id order.
    pub(crate) fn publish(&self, frames: Vec<Arc<EventFrame>>) {
        METRICS.events_published.add(frames.len() as u64);
        if let Some(last) = frames.last() {
            self.newest.store(last.id().get(), Ordering::Relaxed);
        }
        let ring = self.live.read().unwrap_or_else(PoisonError::into_inner);
        let Some(live) = &*ring else {
            return;
        };
        let first_seq = self.pushed.load(Ordering::Relaxed);
        for group in FrameGroup::pack(&frames, GROUP_BYTES, first_seq) {
            self.pushed.store(group.end_seq(), Ordering::Relaxed);
            let _ = live.send(Arc::new(group));
        }
    }

    /// A receiver that sees every frame published from now on; already closed once the
    /// hub is.
    pub(crate) fn subscribe(&self) -> Live {
        let ring = self.live.read().unwrap_or_else(PoisonError::into_inner);
        let receiver = match &*ring {
            Some(live) => live.subscribe(),
            None => broadcast::channel(1).1,
        };
        Live {
            receiver,
            pushed: Arc::clone(&self.pushed),
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

    fn ids(group: &FrameGroup) -> Vec<u64> {
        group.frames().iter().map(|f| f.id().get()).collect()
    }

    #[tokio::test]
    async fn closing_ends_each_receiver_after_what_the_ring_holds_for_it() {
        let hub = Hub::new(8, 1);
        let mut behind = hub.subscribe();
        hub.publish(vec![frame(1), frame(2)]);
        hub.publish(vec![frame(3)]);
        hub.close();
        hub.publish(vec![frame(4)]);
        let first = behind.recv().await.expect("the first group");
        assert_eq!(ids(&first), [1, 2]);
        assert_eq!(behind.behind(&first), 1);
        let second = behind.recv().await.expect("the second group");
        assert_eq!(ids(&second), [3]);
        assert_eq!(behind.behind(&second), 0);
        assert!(matches!(behind.recv().await, Err(RecvError::Closed)));
        assert!(matches!(
            hub.subscribe().recv().await,
            Err(RecvError::Closed)
        ));
    }

    #[tokio::test]
    async fn frames_committed_together_are_one_item_up_to_the_group_size() {
        let hub = Hub::new(8, 1);
        let mut live = hub.subscribe();
        let big = |id| {
            let event_type = EventType::parse("big").expect("a valid type");
            let envelope = format!("\"{}\"", "x".repeat(GROUP_BYTES / 2));
            Arc::new(EventFrame::new(
                EventId::new(id),
                event_type,
                None,
                false,
                &envelope,
            ))
        };
        hub.publish(vec![big(1), big(2), big(3)]);
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(ids(&live.recv().await.expect("a group")));
        }
        // Each frame is a little over half the bound: one per item.
        assert_eq!(seen, [vec![1], vec![2], vec![3]]);
    }
}
