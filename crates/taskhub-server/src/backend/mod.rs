//! The engines, chosen once at start-up: where events and tasks live.
//!
//! Small enums rather than trait objects: the handlers call the same async methods either
//! way, and the single-node path stays a direct call into the SQLite store. Each method
//! delegates through `taskhub_engine`'s traits, so an engine is one crate implementing
//! them plus one arm here: in the enum it serves, in its `on_*` macro, in [`StoreUrl`]
//! if it has a URL of its own, and in [`open`].
//!
//! | mode | events | tasks |
//! |---|---|---|
//! | single node (default) | SQLite (`taskhub-store`) | the same SQLite file |
//! | cluster (`--redis-url`, `postgres://` database) | a Redis Stream | PostgreSQL |

mod store_url;

use std::sync::Arc;
use taskhub_cluster::{PgTasks, RedisLog};
use taskhub_core::mercure::ResumePoint;

use taskhub_core::{EventFrame, EventId, Task, TaskId, TaskStatus, Timestamp, Topic};
use taskhub_engine::{
    Advanced, Applied, CommitSink, EngineError, IdRange, Idempotency, NewEvent, NewTask, Order,
    Redelivery, Replay, Retention, TaskPatch, WebhookProgress, WebhookState,
};
use taskhub_store::{Store, StoreOptions};

use crate::config::Config;
pub use store_url::{ParseStoreUrlError, StoreUrl};
pub use taskhub_cluster::RedisUrl;

/// How many read-only SQLite connections replay and task queries share.
const STORE_READERS: usize = 4;

/// File descriptors the engines may open after start, which the connection budget
/// leaves them: SQLite's readers (the file and its WAL each) and a temporary file or
/// two; in cluster mode PostgreSQL's pool of 8 and Redis's connections, with room for a
/// reconnect to overlap the connection it replaces.
pub(crate) const DESCRIPTORS_OPENED_LATER: usize = 32;

/// The event log: publish, replay, and (inside it) the feed of committed frames to the hub.
#[derive(Clone, Debug)]
pub(crate) enum EventLog {
    Sqlite(Store),
    Redis(RedisLog),
}

/// The tasks, each change recorded with its event.
#[derive(Clone, Debug)]
pub(crate) enum TaskStore {
    /// The same store as the events: a change and its event are one transaction.
    Sqlite(Store),
    /// PostgreSQL with an outbox relayed to the Redis event log.
    Postgres(PgTasks),
}

/// Why the engines `--database-url` and `--redis-url` name could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the store: {}", at_start(.0))]
    Store(EngineError),
    #[error("cannot start in cluster mode: {}", at_start(.0))]
    Cluster(EngineError),
    #[error(
        "--redis-url puts the events in Redis, but the tasks would stay in this node's SQLite \
         file ({0}), which other nodes cannot see, and a task change and its event could not \
         commit together. In cluster mode use a postgres:// --database-url"
    )]
    RedisWithSqlite(String),
    #[error(
        "a postgres:// --database-url is cluster mode, which keeps the events in Redis: \
         add --redis-url (or use a sqlite:// database for a single node)"
    )]
    PostgresWithoutRedis,
}

/// An engine's failure to open, without the words clients read on a 503 ("the event
/// store is unavailable: …"), which say nothing more at start-up.
fn at_start(error: &EngineError) -> String {
    match error {
        EngineError::Unavailable(reason) | EngineError::Corrupt(reason) => reason.clone(),
        other => other.to_string(),
    }
}

/// Opens the engines `config` names; every event they commit goes to `sink`.
pub(crate) async fn open(
    config: &Config,
    sink: CommitSink,
) -> Result<(EventLog, TaskStore), OpenError> {
    match (&config.database_url, &config.redis_url) {
        (StoreUrl::Sqlite(url), None) => {
            let options = StoreOptions {
                retention: retention(config),
                readers: STORE_READERS,
            };
            let store = Store::open(url, options, sink).map_err(OpenError::Store)?;
            Ok((EventLog::Sqlite(store.clone()), TaskStore::Sqlite(store)))
        }
        (StoreUrl::Postgres(postgres), Some(redis)) => {
            let log = RedisLog::connect(redis, retention(config), config.client_buffer, sink)
                .await
                .map_err(OpenError::Cluster)?;
            let tasks = match PgTasks::connect(postgres, log.clone()).await {
                Ok(tasks) => tasks,
                Err(e) => {
                    taskhub_engine::EventLog::close(&log).await;
                    return Err(OpenError::Cluster(e));
                }
            };
            Ok((EventLog::Redis(log), TaskStore::Postgres(tasks)))
        }
        (StoreUrl::Sqlite(url), Some(_)) => Err(OpenError::RedisWithSqlite(url.to_string())),
        (StoreUrl::Postgres(_), None) => Err(OpenError::PostgresWithoutRedis),
    }
}

fn retention(config: &Config) -> Retention {
    Retention {
        max_events: config.history_size,
        max_age: config.history_max_age,
    }
}

/// Whether both engines can commit a write now (for `/readyz`). On one node the tasks live
/// in the log's own SQLite store, behind the same writer: asking it once is enough, and a
/// probe that commits costs a commit.
pub(crate) async fn ping(events: &EventLog, tasks: &TaskStore) -> Result<(), EngineError> {
    events.ping().await?;
    match (events, tasks) {
        (EventLog::Sqlite(_), TaskStore::Sqlite(_)) => Ok(()),
        _ => tasks.ping().await,
    }
}

/// Awaits `taskhub_engine::EventLog::$method` on the engine that holds the log.
macro_rules! on_event_log {
    ($log:expr, $method:ident($($arg:expr),*)) => {
        match $log {
            EventLog::Sqlite(engine) => taskhub_engine::EventLog::$method(engine, $($arg),*).await,
            EventLog::Redis(engine) => taskhub_engine::EventLog::$method(engine, $($arg),*).await,
        }
    };
}

/// Awaits `taskhub_engine::WebhookLedger::$method` on the engine that holds the log (the
/// webhook ledger lives with it).
macro_rules! on_ledger {
    ($log:expr, $method:ident($($arg:expr),*)) => {
        match $log {
            EventLog::Sqlite(engine) => {
                taskhub_engine::WebhookLedger::$method(engine, $($arg),*).await
            }
            EventLog::Redis(engine) => {
                taskhub_engine::WebhookLedger::$method(engine, $($arg),*).await
            }
        }
    };
}

/// Awaits `taskhub_engine::TaskStore::$method` on the engine that holds the tasks.
macro_rules! on_task_store {
    ($tasks:expr, $method:ident($($arg:expr),*)) => {
        match $tasks {
            TaskStore::Sqlite(engine) => taskhub_engine::TaskStore::$method(engine, $($arg),*).await,
            TaskStore::Postgres(engine) => {
                taskhub_engine::TaskStore::$method(engine, $($arg),*).await
            }
        }
    };
}

impl EventLog {
    /// Durably appends events, all or nothing, and returns their ids; at most once per
    /// idempotency key.
    pub(crate) async fn publish(
        &self,
        events: Vec<NewEvent>,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Vec<EventId>>, EngineError> {
        on_event_log!(self, publish(events, idempotency))
    }

    /// Up to `limit` events after `after`, or [`Replay::Unavailable`].
    pub(crate) async fn replay(&self, after: EventId, limit: usize) -> Result<Replay, EngineError> {
        on_event_log!(self, replay(after, limit))
    }

    /// Up to `limit` of the events kept in `range`, in `order` (from a reader, never the
    /// writer).
    pub(crate) async fn read(
        &self,
        range: IdRange,
        order: Order,
        limit: usize,
    ) -> Result<Vec<Arc<EventFrame>>, EngineError> {
        on_event_log!(self, read(range, order, limit))
    }

    /// The id to replay after for the events committed at or after `at`.
    pub(crate) async fn position_at(&self, at: Timestamp) -> Result<EventId, EngineError> {
        on_event_log!(self, position_at(at))
    }

    /// The newest event kept on `topic` (the newest public one, without `private`).
    pub(crate) async fn latest(
        &self,
        topic: &Topic,
        private: bool,
    ) -> Result<Option<Arc<EventFrame>>, EngineError> {
        on_event_log!(self, latest(topic, private))
    }

    /// The id to replay after for a Mercure subscriber resuming from `point`; `None` when
    /// the history does not hold it.
    pub(crate) async fn locate(&self, point: ResumePoint) -> Result<Option<EventId>, EngineError> {
        on_event_log!(self, locate(point))
    }

    /// Whether a publish could commit now: a write commits (for `/readyz`).
    pub(crate) async fn ping(&self) -> Result<(), EngineError> {
        on_event_log!(self, ping())
    }

    /// Waits until the hub holds every event acknowledged so far (SQLite: the writer has
    /// handed over the frames of what it answered; Redis: the reader catches up with the
    /// stream, for at most a second), so streams ended at shutdown deliver them first.
    pub(crate) async fn settle(&self) {
        on_event_log!(self, settle());
    }

    /// Commits what is queued (SQLite) or stops following the stream (Redis).
    pub(crate) async fn close(&self) {
        on_event_log!(self, close());
    }
}

/// The webhook ledger, kept with the log (see `taskhub_engine::WebhookLedger`).
impl EventLog {
    /// Takes or renews the lease on delivering to `target`; `false` while another node has it.
    pub(crate) async fn claim(
        &self,
        target: &str,
        holder: &str,
        lease: std::time::Duration,
    ) -> Result<bool, EngineError> {
        on_ledger!(self, claim(target, holder, lease))
    }

    pub(crate) async fn release(&self, target: &str, holder: &str) -> Result<(), EngineError> {
        on_ledger!(self, release(target, holder))
    }

    /// The target's state, created at `start` when it has none.
    pub(crate) async fn webhook_state(
        &self,
        target: &str,
        start: EventId,
    ) -> Result<WebhookState, EngineError> {
        on_ledger!(self, webhook_state(target, start))
    }

    pub(crate) async fn inspect_webhook(
        &self,
        target: &str,
    ) -> Result<Option<WebhookState>, EngineError> {
        on_ledger!(self, inspect_webhook(target))
    }

    pub(crate) async fn advance(
        &self,
        target: &str,
        holder: &str,
        progress: WebhookProgress,
    ) -> Result<Advanced, EngineError> {
        on_ledger!(self, advance(target, holder, progress))
    }

    pub(crate) async fn redeliver(
        &self,
        target: &str,
        request: Redelivery,
        at: Timestamp,
    ) -> Result<bool, EngineError> {
        on_ledger!(self, redeliver(target, request, at))
    }

    /// The newest event id the log holds, or zero when it holds none.
    pub(crate) async fn newest_id(&self) -> Result<EventId, EngineError> {
        let newest = self.read(IdRange::ALL, Order::Descending, 1).await?;
        Ok(newest.first().map_or(EventId::ZERO, |frame| frame.id()))
    }
}

impl TaskStore {
    pub(crate) async fn create_task(
        &self,
        task: NewTask,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Task>, EngineError> {
        on_task_store!(self, create_task(task, idempotency))
    }

    pub(crate) async fn update_task(
        &self,
        id: TaskId,
        patch: TaskPatch,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Option<Task>>, EngineError> {
        on_task_store!(self, update_task(id, patch, idempotency))
    }

    pub(crate) async fn delete_task(
        &self,
        id: TaskId,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Option<Task>>, EngineError> {
        on_task_store!(self, delete_task(id, idempotency))
    }

    pub(crate) async fn get_task(&self, id: TaskId) -> Result<Option<Task>, EngineError> {
        on_task_store!(self, get_task(id))
    }

    pub(crate) async fn list_tasks(
        &self,
        status: Option<TaskStatus>,
    ) -> Result<Vec<Task>, EngineError> {
        on_task_store!(self, list_tasks(status))
    }

    /// Whether a task change could commit now: a write commits (for `/readyz`).
    pub(crate) async fn ping(&self) -> Result<(), EngineError> {
        on_task_store!(self, ping())
    }

    /// Stops the outbox sweeper (PostgreSQL) or the writer, once the events are settled.
    pub(crate) async fn close(&self) {
        on_task_store!(self, close());
    }
}
