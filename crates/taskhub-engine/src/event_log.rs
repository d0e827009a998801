//! [`EventLog`]: what an engine that keeps the event log does for the server.

use std::future::Future;
use std::sync::Arc;

use taskhub_core::mercure::ResumePoint;
use taskhub_core::{EventFrame, EventId, Timestamp, Topic};

use crate::{Applied, EngineError, IdRange, Idempotency, NewEvent, Order, Replay};

/// The durable, ordered log of events, and (inside the engine) the feed of every committed
/// event to the [`CommitSink`](crate::CommitSink) it was opened with.
///
/// Every implementation keeps these promises, which the server's streams rely on:
/// - ids are assigned by the log, strictly increasing in the order the sink receives them,
///   and never reused;
/// - a publish is answered `Ok` only once its events are as durable as the engine makes
///   them, and its frames reach the sink only once they are durable too;
/// - an `Err` other than [`EngineError::OutcomeUnknown`] means nothing was appended;
/// - a publish with an [`Idempotency`] key appends at most once while the key lives: the
///   key is recorded atomically with the events, and a retry with it is answered the first
///   attempt's ids ([`Applied::replayed`]) or, for a different request,
///   [`EngineError::KeyReused`]. Concurrent attempts are serialized: one appends. Keys of
///   publishes and of task changes are apart: the same key may name one of each.
pub trait EventLog: Send + Sync {
    /// Appends events, all or nothing, and returns their ids (consecutive).
    fn publish(
        &self,
        events: Vec<NewEvent>,
        idempotency: Option<Idempotency>,
    ) -> impl Future<Output = Result<Applied<Vec<EventId>>, EngineError>> + Send;

    /// Up to `limit` events after `after`, or [`Replay::Unavailable`] when `after` is
    /// unknown or older than the retained history.
    fn replay(
        &self,
        after: EventId,
        limit: usize,
    ) -> impl Future<Output = Result<Replay, EngineError>> + Send;

    /// Up to `limit` of the events the log still holds in `range`, walking it in `order`.
    /// Served by readers, never by the writer: a long read does not delay a publish.
    fn read(
        &self,
        range: IdRange,
        order: Order,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Arc<EventFrame>>, EngineError>> + Send;

    /// The id to replay after to get the events committed at or after `at`: just before
    /// the first such event the log holds; the newest id when every event is older; just
    /// before the oldest event kept when every kept event is that recent. (Events are
    /// stamped by one clock in id order; were it set back, the search still ends on one
    /// of the events whose neighbours straddle `at`.)
    fn position_at(
        &self,
        at: Timestamp,
    ) -> impl Future<Output = Result<EventId, EngineError>> + Send;

    /// The newest event the log holds on `topic`; with `private` false, the newest that is
    /// not private.
    fn latest(
        &self,
        topic: &Topic,
        private: bool,
    ) -> impl Future<Output = Result<Option<Arc<EventFrame>>, EngineError>> + Send;

    /// The id to replay after, for a Mercure subscriber resuming from `point`: `earliest`
    /// is just before the oldest event kept, `#N` is `N` while replay after it is possible,
    /// an update id is its newest event while the history holds it; `None` otherwise.
    fn locate(
        &self,
        point: ResumePoint,
    ) -> impl Future<Output = Result<Option<EventId>, EngineError>> + Send;

    /// Whether a publish could commit now (for `/readyz`, which a load balancer trusts).
    ///
    /// An engine proves it with a write that needs what a publish needs (free disk space,
    /// a writable primary, memory the server may still use), committed apart from any
    /// publish and appending no event; an answer alone is not enough, since a server out
    /// of space or memory still answers. `Ok` again as soon as such a write commits, with
    /// nothing to reset. A ping only reports: no publish is refused because of it.
    fn ping(&self) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// Waits until the sink has had every event acknowledged so far (at shutdown, so open
    /// streams deliver them before they end). An engine that cannot know this exactly
    /// waits a bounded time it chooses.
    fn settle(&self) -> impl Future<Output = ()> + Send;

    /// Commits what is queued, stops feeding the sink, and releases the log.
    fn close(&self) -> impl Future<Output = ()> + Send;
}
