//! [`WebhookLedger`]: where each webhook target's delivery stands, kept with the log so a
//! restart (or a SIGKILL) resumes delivery where it was, and (in a cluster) who delivers.

use std::future::Future;
use std::time::Duration;

use taskhub_core::{EventId, Timestamp};

use crate::EngineError;

/// How far delivery to one target has come, and what its last attempt met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookState {
    /// Every event up to this id is delivered, parked or not selected.
    pub cursor: EventId,
    /// Bumped by each redelivery request; a progress record written against an older
    /// generation is refused ([`Advanced::Stale`]), so a request is never overwritten.
    pub generation: u64,
    /// When the last redelivery was asked for: events delivered after it count their age
    /// from it rather than from their commit.
    pub replayed_at: Option<Timestamp>,
    /// The last attempt: when, the answer's status (none when there was no answer), and
    /// why it failed (none when it succeeded).
    pub last_attempt_at: Option<Timestamp>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// The parked events, oldest first.
    pub parked: Vec<ParkedEvent>,
}

/// An event whose delivery failed for longer than the maximum age: kept, not dropped,
/// until a redelivery succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedEvent {
    pub id: EventId,
    /// The envelope JSON, exactly as delivered (so it outlives the log's retention).
    pub envelope: String,
    pub parked_at: Timestamp,
    pub last_status: Option<u16>,
    pub last_error: String,
    /// Set when a redelivery of it was asked for, and when.
    pub requeued_at: Option<Timestamp>,
}

/// The outcome of one attempt (or of skipping events no selector picks), written in one
/// atomic step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookProgress {
    /// The generation the deliverer read; the write is refused under another.
    pub generation: u64,
    /// The new cursor, when it moves.
    pub cursor: Option<EventId>,
    /// The attempt to record as the last one.
    pub attempt: Option<WebhookAttempt>,
    /// An event to park.
    pub park: Option<ParkedEvent>,
    /// A parked event delivered on redelivery, to forget.
    pub unpark: Option<EventId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    pub at: Timestamp,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// Whether a progress record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advanced {
    Written,
    /// Not written: a redelivery changed the generation, or (in a cluster) this node no
    /// longer holds the target's lease. The deliverer reads the state again.
    Stale,
}

/// What a redelivery request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redelivery {
    /// Every event after this id again (the cursor moves back, or forward).
    After(EventId),
    /// One parked event.
    Parked(EventId),
}

/// The delivery state of webhook targets, named by their URL.
///
/// Every implementation keeps these promises:
/// - the state lives with the log and survives a restart or a crash of the process;
/// - [`WebhookLedger::advance`] is atomic: the cursor, the attempt and a parked event are
///   written together or not at all, and only under the generation (and lease) read;
/// - at most one holder has a target's lease at a time ([`WebhookLedger::claim`]): on
///   one node the database's own lock makes the process the only holder.
pub trait WebhookLedger: Send + Sync {
    /// Takes or renews the right to deliver to `target` for `lease`; `false` while another
    /// holder has it.
    fn claim(
        &self,
        target: &str,
        holder: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<bool, EngineError>> + Send;

    /// Gives the lease up (at shutdown), if `holder` has it.
    fn release(
        &self,
        target: &str,
        holder: &str,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// The target's state, created with its cursor at `start` when it has none.
    fn webhook_state(
        &self,
        target: &str,
        start: EventId,
    ) -> impl Future<Output = Result<WebhookState, EngineError>> + Send;

    /// The target's state, if it has one (for `GET /webhooks`).
    fn inspect_webhook(
        &self,
        target: &str,
    ) -> impl Future<Output = Result<Option<WebhookState>, EngineError>> + Send;

    /// Records an attempt's outcome, if `holder` still holds the lease and the generation
    /// is unchanged.
    fn advance(
        &self,
        target: &str,
        holder: &str,
        progress: WebhookProgress,
    ) -> impl Future<Output = Result<Advanced, EngineError>> + Send;

    /// Asks for a redelivery and bumps the generation; `false` when the target has no
    /// state or (for [`Redelivery::Parked`]) no such parked event.
    fn redeliver(
        &self,
        target: &str,
        request: Redelivery,
        at: Timestamp,
    ) -> impl Future<Output = Result<bool, EngineError>> + Send;
}
