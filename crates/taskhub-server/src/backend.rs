//! The backends, chosen once at start-up: where events and tasks live.
//!
//! Small enums rather than trait objects: the handlers call the same async methods either
//! way, and the single-node path stays a direct call into the SQLite store.
//!
//! | mode | events | tasks |
//! |---|---|---|
//! | single node (default) | SQLite (`taskhub-store`) | the same SQLite file |
//! | cluster (`--redis-url`, `postgres://` database) | a Redis Stream | PostgreSQL |

pub use taskhub_cluster::{ParseStoreUrlError, RedisUrl, StoreUrl};
use taskhub_cluster::{PgTasks, RedisLog};
use taskhub_core::mercure::ResumePoint;
use taskhub_core::{EventId, Task, TaskId, TaskStatus};
use taskhub_store::{NewEvent, NewTask, Replay, Store, StoreError, TaskPatch};

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

impl EventLog {
    /// Durably appends events, all or nothing, and returns their ids.
    pub(crate) async fn publish(&self, events: Vec<NewEvent>) -> Result<Vec<EventId>, StoreError> {
        match self {
            Self::Sqlite(store) => store.publish(events).await,
            Self::Redis(log) => Ok(log.publish(events).await?),
        }
    }

    /// Up to `limit` events after `after`, or [`Replay::Unavailable`].
    pub(crate) async fn replay(&self, after: EventId, limit: usize) -> Result<Replay, StoreError> {
        match self {
            Self::Sqlite(store) => store.replay(after, limit).await,
            Self::Redis(log) => Ok(log.replay(after, limit).await?),
        }
    }

    /// The id to replay after for a Mercure subscriber resuming from `point`; `None` when
    /// the history does not hold it.
    pub(crate) async fn locate(&self, point: ResumePoint) -> Result<Option<EventId>, StoreError> {
        match self {
            Self::Sqlite(store) => store.locate(point).await,
            Self::Redis(log) => Ok(log.locate(point).await?),
        }
    }

    /// Whether the log can take a publish now (for `/readyz`).
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(store) => store.ping().await,
            Self::Redis(log) => Ok(log.ping().await?),
        }
    }

    /// Waits until the hub holds every event acknowledged so far (SQLite: the writer has
    /// handed over the frames of what it answered; Redis: the reader catches up with the
    /// stream, for at most a second), so streams ended at shutdown deliver them first.
    pub(crate) async fn settle(&self) {
        match self {
            Self::Sqlite(store) => store.settle().await,
            Self::Redis(log) => log.settle(std::time::Duration::from_secs(1)).await,
        }
    }

    /// Commits what is queued (SQLite) or stops following the stream (Redis).
    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(store) => store.close().await,
            Self::Redis(log) => log.close().await,
        }
    }
}

impl TaskStore {
    pub(crate) async fn create_task(&self, task: NewTask) -> Result<Task, StoreError> {
        match self {
            Self::Sqlite(store) => store.create_task(task).await,
            Self::Postgres(tasks) => Ok(tasks.create_task(task).await?),
        }
    }

    pub(crate) async fn update_task(
        &self,
        id: TaskId,
        patch: TaskPatch,
    ) -> Result<Option<Task>, StoreError> {
        match self {
            Self::Sqlite(store) => store.update_task(id, patch).await,
            Self::Postgres(tasks) => Ok(tasks.update_task(id, patch).await?),
        }
    }

    pub(crate) async fn delete_task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        match self {
            Self::Sqlite(store) => store.delete_task(id).await,
            Self::Postgres(tasks) => Ok(tasks.delete_task(id).await?),
        }
    }

    pub(crate) async fn get_task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        match self {
            Self::Sqlite(store) => store.get_task(id).await,
            Self::Postgres(tasks) => Ok(tasks.get_task(id).await?),
        }
    }

    pub(crate) async fn list_tasks(
        &self,
        status: Option<TaskStatus>,
    ) -> Result<Vec<Task>, StoreError> {
        match self {
            Self::Sqlite(store) => store.list_tasks(status).await,
            Self::Postgres(tasks) => Ok(tasks.list_tasks(status).await?),
        }
    }

    /// Whether task writes can commit now (for `/readyz`). With SQLite the event log's
    /// ping already covered the one file.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(_) => Ok(()),
            Self::Postgres(tasks) => Ok(tasks.ping().await?),
        }
    }

    /// Stops the outbox sweeper (PostgreSQL); the SQLite store closes with the event log.
    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(_) => {}
            Self::Postgres(tasks) => tasks.close().await,
        }
    }
}
