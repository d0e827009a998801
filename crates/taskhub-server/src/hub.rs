//! The hub: the live tail of the event log, and the permits for open streams.
//!
//! The commit sink (the store's writer thread, or the Redis reader) hands each committed
//! frame to [`Hub::publish`], which queues it and returns at once. One fan-out task on
//! the runtime takes what is queued and pushes it into a `broadcast` ring; every
//! subscriber holds a receiver and reads at its own pace. Pushing never waits on any
//! subscriber. The ring holds the last `--client-buffer` frames: a receiver that falls
//! further behind than that is told it lagged, which is the slow-client signal (see
//! `subscription`).
//!
//! Why a task between the sink and the ring: a push wakes every waiting subscriber. Woken
//! from a runtime worker, they go to that worker's own run queue; woken from the writer's
//! thread, each would take the runtime's shared queue lock. And frames queued together
//! are pushed together, so each subscriber wakes once for all of them and writes them
//! in one go.
//!
//! Shutdown: when the token is cancelled the task pushes what is still queued and drops
//! the ring's only sender. Each receiver then gets what the ring still holds for it and
//! `Closed`: streams end at a frame boundary, after every event acknowledged before the
//! shutdown (`EventLog::settle` runs first), with no subscriber polling the token itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use taskhub_core::EventFrame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::metrics::METRICS;

/// Most frames the fan-out task takes from its queue at once.
const FANOUT_BATCH: usize = 256;

#[derive(Debug)]
pub(crate) struct Hub {
    /// Frames on their way to the ring. Unbounded: the sink must never wait, and the
    /// fan-out task's work per frame is a push that never waits either.
    intake: mpsc::UnboundedSender<Arc<EventFrame>>,
    /// Never read: kept to hand out receivers (`resubscribe`) while the fan-out task
    /// owns the only sender, whose drop closes the ring.
    ring: broadcast::Receiver<Arc<EventFrame>>,
    /// One permit per open stream (`--max-clients`). A permit moves into the stream and
    /// is released when the stream is dropped, not when the response headers are sent.
    streams: Arc<Semaphore>,
    /// Numbers the connections for their `client_id`; only uniqueness matters.
    next_client: AtomicU64,
    /// Distinguishes this process's client ids from a previous run's.
    boot: u64,
}

impl Hub {
    /// Starts the fan-out task, which closes the ring when `shutdown` is cancelled.
    pub(crate) fn start(
        client_buffer: usize,
        max_clients: usize,
        shutdown: CancellationToken,
    ) -> Self {
        let (live, ring) = broadcast::channel(client_buffer.max(1));
        let (intake, queued) = mpsc::unbounded_channel();
        tokio::spawn(fan_out(queued, live, shutdown));
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            intake,
            ring,
            streams: Arc::new(Semaphore::new(max_clients)),
            next_client: AtomicU64::new(1),
            boot,
        }
    }

    /// Called by the commit sink for each committed frame, in id order.
    pub(crate) fn publish(&self, frame: Arc<EventFrame>) {
        METRICS.events_published.inc();
        // Fails only once the ring is closed at shutdown: no stream is left to want it.
        let _ = self.intake.send(frame);
    }

    /// A receiver that sees every frame pushed from now on; closed at once after shutdown.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<EventFrame>> {
        self.ring.resubscribe()
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

/// Moves queued frames into the ring until shutdown, then closes it (by returning, which
/// drops `live`).
async fn fan_out(
    mut queued: mpsc::UnboundedReceiver<Arc<EventFrame>>,
    live: broadcast::Sender<Arc<EventFrame>>,
    shutdown: CancellationToken,
) {
    let mut frames = Vec::with_capacity(FANOUT_BATCH);
    loop {
        tokio::select! {
            biased;
            taken = queued.recv_many(&mut frames, FANOUT_BATCH) => {
                if taken == 0 {
                    return;
                }
            }
            () = shutdown.cancelled() => break,
        }
        push(&live, &mut frames);
    }
    while let Ok(frame) = queued.try_recv() {
        let _ = live.send(frame);
    }
}

fn push(live: &broadcast::Sender<Arc<EventFrame>>, frames: &mut Vec<Arc<EventFrame>>) {
    for frame in frames.drain(..) {
        // Fails only when nobody listens, which is not an error.
        let _ = live.send(frame);
    }
}
