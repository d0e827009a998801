//! One subscriber's stream, from the first byte to the last, for either protocol (its
//! [`View`] says which events it wants and how they are written).
//!
//! ```text
//!  preamble ──► catching up ──► live ──► ended
//!               (pages from     (the hub's ring, filtered;
//!                the store)      lag ⇒ slow-client policy)
//! ```
//!
//! The receiver on the hub's ring is taken *before* the first page is read from the
//! store, so every event is either in a page or in the ring (or both). `cursor` is the id
//! of the last event taken from either; anything at or below it is skipped, so the seam
//! between replay and live has no gap and no duplicate.
//!
//! The ring carries the frames committed together as one group. A native stream that
//! wants several consecutive frames of a group queues them as one slice of the group's
//! buffer; others queue each frame's own bytes.

mod policy;
#[cfg(test)]
mod tests;
mod view;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::Stream;
use taskhub_core::frame::KEEPALIVE;
use taskhub_core::{EventFrame, EventId, FrameGroup};
use taskhub_engine::Replay;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::backend::EventLog;
use crate::hub::Live;
use crate::metrics::METRICS;
use crate::presence::PresenceGuard;
pub use policy::SlowClientPolicy;
pub(crate) use view::{MercureSelection, View};

/// Events read from the store per query while catching up.
const REPLAY_PAGE: usize = 256;
/// Deliveries a stream counts locally before adding them to the shared metric.
const DELIVERIES_PER_FLUSH: u64 = 64;

/// Everything a stream needs to know about its subscriber.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) view: View,
    pub(crate) resume: Resume,
    /// The stream's presence, if it has one: held for its life, dropped with it.
    pub(crate) presence: Option<PresenceGuard>,
}

/// Where a stream starts.
#[derive(Debug)]
pub(crate) enum Resume {
    /// With the next event published.
    Live,
    /// After this event, replaying what the log holds after it first.
    After(EventId),
    /// The client asked for an id this log never issued (shown as sent): a native stream
    /// says so with `event: reset`, then goes live.
    Unknown(String),
}

#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) retry: Duration,
    pub(crate) keepalive: Duration,
    pub(crate) policy: SlowClientPolicy,
    /// Frames that may wait in the ring behind what the stream reads (`--client-buffer`).
    pub(crate) buffer: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading history pages from the store.
    CatchingUp,
    /// Reading the hub's ring. `fresh` until the first live frame after a catch-up: a
    /// lag then means the ring moved on while we read the store, not that the client is
    /// slow, so we catch up again instead of applying the policy.
    Live {
        fresh: bool,
    },
    Ended,
}

#[derive(Debug)]
pub(crate) struct Subscription {
    /// Which events the subscriber wants, and how they are written for it.
    view: View,
    settings: Settings,
    events: EventLog,
    live: Live,
    phase: Phase,
    /// The last event id taken from the store or the ring, delivered or filtered out.
    cursor: EventId,
    /// The id the stream resumed after, if it did: replay starts here.
    resumed_after: Option<EventId>,
    /// With `drop-oldest`: the first id lost to a lag, until the gap is reported.
    lost_from: Option<EventId>,
    /// Chunks ready to write, in order.
    ready: VecDeque<Bytes>,
    /// When the last of the chunks ready together was handed out (the clock is read once
    /// per batch, not per event); a keepalive is due `keepalive` after it.
    last_write: Instant,
    /// One timer for the stream's life, re-armed only when it fires early (something was
    /// written since it was set), not per frame: re-registering a timer per event per
    /// subscriber is the timer wheel's lock taken that often.
    keepalive: Pin<Box<Sleep>>,
    /// Fires when the subscriber's credentials expire and the stream must end.
    expiry: Option<Pin<Box<Sleep>>>,
    /// Looked at only between history pages: a live stream learns of shutdown from the
    /// hub, which closes the ring (asking the token on every wake-up would take its lock
    /// once per event per subscriber).
    shutdown: CancellationToken,
    /// Events queued for this subscriber and not yet added to the shared metric: a plain
    /// field, so delivery costs no atomic write per event.
    delivered: u64,
    /// Held for the stream's life: its drop frees a `--max-clients` slot.
    _permit: OwnedSemaphorePermit,
    /// Held for the stream's life: its drop queues the stream's leave (no per-event cost).
    _presence: Option<PresenceGuard>,
}

impl Subscription {
    pub(crate) fn new(
        request: Request,
        settings: Settings,
        events: EventLog,
        live: Live,
        client_id: &str,
        shutdown: CancellationToken,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        let retry_ms = u64::try_from(settings.retry.as_millis()).unwrap_or(u64::MAX);
        let Request {
            view,
            resume,
            presence,
        } = request;
        let mut ready = VecDeque::from([view.opening(retry_ms, client_id)]);
        let (phase, resumed_after) = match resume {
            Resume::Live => (Phase::Live { fresh: false }, None),
            Resume::After(id) => {
                METRICS.replays.inc();
                (Phase::CatchingUp, Some(id))
            }
            Resume::Unknown(raw) => {
                ready.extend(view.reset(&raw));
                METRICS.resets.inc();
                (Phase::Live { fresh: false }, None)
            }
        };
        METRICS.streams_opened.inc();
        METRICS.streams_open.inc();
        let expiry = view.expires_at().map(|at| {
            let left = at.duration_since(SystemTime::now()).unwrap_or_default();
            Box::pin(tokio::time::sleep(left))
        });
        let now = Instant::now();
        Self {
            last_write: now,
            keepalive: Box::pin(tokio::time::sleep_until(now + settings.keepalive)),
            expiry,
            view,
            settings,
            events,
            live,
            phase,
            cursor: resumed_after.unwrap_or(EventId::ZERO),
            resumed_after,
            lost_from: None,
            ready,
            shutdown,
            delivered: 0,
            _permit: permit,
            _presence: presence,
        }
    }

    /// The response body: chunks until the subscriber goes away, lags under the
    /// `disconnect` policy, or the server shuts down.
    pub(crate) fn into_body_stream(self) -> impl Stream<Item = Result<Bytes, Infallible>> {
        // Boxed: `unfold` moves its state in and out of the future for every chunk, and
        // a pointer is cheaper to move than the whole subscription.
        futures_util::stream::unfold(Box::new(self), |mut subscription| async move {
            let chunk = subscription.next_chunk().await?;
            Some((Ok(chunk), subscription))
        })
    }

    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.ready.pop_front() {
                if self.ready.is_empty() {
                    self.last_write = Instant::now();
                }
                return Some(chunk);
            }
            match self.phase {
                Phase::CatchingUp if self.shutdown.is_cancelled() => self.phase = Phase::Ended,
                Phase::CatchingUp => self.catch_up().await,
                Phase::Live { fresh } => {
                    tokio::select! {
                        biased;
                        // At shutdown the ring closes after what it holds for us: the
                        // stream ends at a frame boundary.
                        received = self.live.recv() => self.on_live(received, fresh),
                        () = self.keepalive.as_mut() => {
                            let due = self.last_write + self.settings.keepalive;
                            if due > Instant::now() {
                                self.keepalive.as_mut().reset(due);
                            } else {
                                self.ready.push_back(Bytes::from_static(KEEPALIVE));
                                let next = Instant::now() + self.settings.keepalive;
                                self.keepalive.as_mut().reset(next);
                            }
                        }
                        () = until(self.expiry.as_mut()) => {
                            debug!("credentials expired; ending the stream");
                            self.phase = Phase::Ended;
                        }
                    }
                }
                Phase::Ended => return None,
            }
        }
    }

    /// Reads one page of history into `ready`.
    async fn catch_up(&mut self) {
        match self.events.replay(self.cursor, REPLAY_PAGE).await {
            Ok(Replay::Events(frames)) => {
                if frames.len() < REPLAY_PAGE {
                    self.phase = Phase::Live { fresh: true };
                }
                for frame in frames {
                    self.take(&frame);
                }
            }
            Ok(Replay::Unavailable) => {
                let requested = self.resumed_after.unwrap_or_default();
                if self.cursor == requested {
                    // Nothing was replayed, and the id may be from the future (a wiped
                    // store): deliver everything the ring holds.
                    self.cursor = EventId::ZERO;
                }
                self.ready.extend(self.view.reset(&requested.to_string()));
                METRICS.resets.inc();
                self.phase = Phase::Live { fresh: false };
            }
            Err(e) => {
                // The client reconnects with its last id and resumes once the store is back.
                warn!(error = %e, "replay failed; ending the stream");
                METRICS.store_errors.inc();
                self.phase = Phase::Ended;
            }
        }
    }

    fn on_live(&mut self, received: Result<Arc<FrameGroup>, RecvError>, fresh: bool) {
        let missed = match received {
            Ok(group) => {
                let behind = self.live.behind(&group);
                if behind <= self.settings.buffer {
                    self.take_group(&group);
                    return;
                }
                // More than the buffer waits behind this group: the subscriber is slow,
                // and this group is what it loses first.
                behind + group.frames().len() as u64
            }
            // The ring moved past groups this stream never read (it was not polled while
            // its socket was full): at least that many frames.
            Err(RecvError::Lagged(groups)) => groups,
            Err(RecvError::Closed) => {
                self.phase = Phase::Ended;
                return;
            }
        };
        if fresh {
            self.phase = Phase::CatchingUp;
            return;
        }
        METRICS.lagged_events.add(missed);
        match self.settings.policy {
            SlowClientPolicy::Disconnect => {
                debug!(missed, "slow subscriber disconnected");
                METRICS.slow_client_disconnects.inc();
                self.phase = Phase::Ended;
            }
            SlowClientPolicy::DropOldest => {
                self.lost_from.get_or_insert(self.cursor.next());
            }
        }
    }

    /// Takes the frames of `group` after the cursor: a gap first if some were lost, then
    /// the wanted ones, consecutive typed frames as one slice of the group's buffer.
    fn take_group(&mut self, group: &FrameGroup) {
        let frames = group.frames();
        let Some(first) = frames.iter().position(|frame| frame.id() > self.cursor) else {
            return;
        };
        if let Some(lost) = self.lost_from.take() {
            let last = EventId::new(frames[first].id().get() - 1);
            self.ready.push_back(self.view.gap(lost, last));
            METRICS.gaps.inc();
        }
        self.phase = Phase::Live { fresh: false };
        if !self.view.shares_typed_bytes() {
            for frame in &frames[first..] {
                self.take(frame);
            }
            return;
        }
        let mut run = first..first;
        for (index, frame) in frames.iter().enumerate().skip(first) {
            self.cursor = frame.id();
            if self.view.wants(frame) {
                if run.is_empty() {
                    run = index..index;
                }
                run.end = index + 1;
                self.count_delivery();
            } else if !run.is_empty() {
                self.ready.push_back(group.typed_run(run.clone()));
                run = index..index;
            }
        }
        if !run.is_empty() {
            self.ready.push_back(group.typed_run(run));
        }
    }

    /// Moves the cursor past `frame` and queues it if this subscriber wants it.
    fn take(&mut self, frame: &EventFrame) {
        self.cursor = frame.id();
        let view = &self.view;
        if view.wants(frame) {
            self.ready.push_back(view.encode(frame));
            self.count_delivery();
        }
    }

    fn count_delivery(&mut self) {
        self.delivered += 1;
        if self.delivered == DELIVERIES_PER_FLUSH {
            METRICS.events_delivered.add(self.delivered);
            self.delivered = 0;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        METRICS.events_delivered.add(self.delivered);
        METRICS.streams_open.dec();
    }
}

/// Completes when `timer` fires, or never when there is none.
async fn until(timer: Option<&mut Pin<Box<Sleep>>>) {
    match timer {
        Some(timer) => timer.as_mut().await,
        None => std::future::pending().await,
    }
}
