//! The contract every TaskHub engine implements, as a peer of the others: what the server
//! asks an event log and a task store, what they answer, and how they fail. The embedded
//! engine (`taskhub-store`, one SQLite file) implements both traits; the cluster engine
//! (`taskhub-cluster`) implements [`EventLog`] on a Redis Stream and [`TaskStore`] in
//! PostgreSQL. The server picks one of each at start-up and calls them the same way.
//!
//! # Layout
//! - [`EventLog`] (`event_log`), [`TaskStore`] (`task_store`): the two traits.
//! - [`NewEvent`], [`CommitSink`], [`Replay`] (`event`): an event as published, the feed
//!   of committed frames to the hub, and a page of history.
//! - [`Order`], [`IdRange`], [`Retention`] (`history`): reading the log as history, and
//!   how long it keeps events.
//! - [`NewTask`], [`TaskPatch`], [`task_event`] (`task`): the task changes, and the event
//!   each one records, written once for every engine.
//! - [`Idempotency`], [`Applied`], [`Answer`] (`idempotency`): retry-safe writes, and
//!   what an engine records with a key to answer a retry as the first attempt was.
//! - [`presence::Ledger`], [`presence::Announcement`] (`presence`): who is present on
//!   which selector, and the joins and leaves to announce, under a grace period.
//! - [`WebhookLedger`] (`webhook`): where delivery to each webhook target stands, kept
//!   with the log, and who delivers it.
//! - [`EngineError`] (`error`): why a request failed, and whether it may still have been
//!   applied.

mod error;
mod event;
mod event_log;
mod history;
mod idempotency;
pub mod presence;
mod task;
mod task_store;
mod webhook;

pub use error::EngineError;
pub use event::{CommitSink, NewEvent, Replay};
pub use event_log::EventLog;
pub use history::{IdRange, Order, Retention};
pub use idempotency::{Answer, Applied, Fingerprint, Idempotency};
pub use task::{NewTask, TaskPatch, task_event};
pub use task_store::TaskStore;
pub use webhook::{
    Advanced, ParkedEvent, Redelivery, WebhookAttempt, WebhookLedger, WebhookProgress, WebhookState,
};
