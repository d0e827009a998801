//! TaskHub's embedded store: one SQLite file (WAL) holding the event log and the tasks.
//!
//! # Layout
//! - [`Store`]: the cheap-to-clone handle the server uses.
//! - `writer`: the single writer thread. It group-commits whatever writes are queued into
//!   one transaction (one fsync for many publishes), assigns event ids, encodes each event
//!   once, and hands the committed frames to the server in id order.
//! - `reader`: a small pool of read-only connections for replay and task queries.
//! - `schema`, `tasks`: the tables and the task statements.
//!
//! # Invariants
//! - An id is handed out only by the writer, inside the transaction that stores the event,
//!   so ids are strictly increasing in commit order and never reused, even after trimming.
//! - A caller is answered only after `COMMIT` returned with `synchronous=FULL`: an
//!   acknowledged write survives a crash one instant later.
//! - Committed frames reach the commit sink in id order, after they are durable, so a
//!   subscriber that subscribes *before* reading history misses nothing. A group's
//!   callers are answered just before its frames are handed over ([`Store::settle`]
//!   waits for those).

mod database_url;
mod error;
mod reader;
mod schema;
mod tasks;
mod writer;

use std::sync::Arc;

use serde_json::value::RawValue;
use taskhub_core::mercure::{MercureFields, ResumePoint};
use taskhub_core::{EventFrame, EventId, EventType, Task, TaskId, TaskStatus, Topic};
use tokio::sync::{mpsc, oneshot};

pub use database_url::{DatabaseUrl, ParseDatabaseUrlError};
pub use error::StoreError;
pub use reader::Replay;
pub use tasks::{NewTask, TaskPatch, event as task_event};

use reader::ReadPool;
use writer::{TaskCommand, Write, WriteOp};

/// An event as published, before the store gives it an id and a timestamp.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: EventType,
    pub topic: Option<Topic>,
    pub private: bool,
    /// Compact JSON, as `serde_json::value::to_raw_value` writes it.
    pub data: Box<RawValue>,
    /// What a Mercure publish adds (its `data` is then a JSON string); `None` for native
    /// events.
    pub mercure: Option<MercureFields>,
}

/// Receives every committed event, in id order, on the writer thread. It must not block.
pub type CommitSink = Box<dyn Fn(Arc<EventFrame>) + Send + 'static>;

/// Tuning that does not change behaviour a client can see.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How many of the newest events to keep for replay.
    pub history_size: u64,
    /// How many read-only connections may run queries at once.
    pub readers: usize,
}

/// Handle to the store. Clones share one writer thread and one reader pool.
#[derive(Clone, Debug)]
pub struct Store {
    /// Queue to the writer thread. Bounded, so a writer that falls behind slows
    /// publishers down instead of growing memory.
    writes: mpsc::Sender<WriteOp>,
    reads: Arc<ReadPool>,
}

impl Store {
    /// Opens (creating if needed) the SQLite file, migrates it and starts the writer.
    pub fn open(
        url: &DatabaseUrl,
        options: StoreOptions,
        sink: CommitSink,
    ) -> Result<Self, StoreError> {
        let lock = schema::lock_exclusive(url)?;
        let connection = schema::open_writer(url)?;
        let writes = writer::spawn(connection, lock, options.history_size, sink)?;
        let reads = Arc::new(ReadPool::new(url.clone(), options.readers));
        Ok(Self { writes, reads })
    }

    /// Durably appends events, all or nothing, and returns their ids.
    pub async fn publish(&self, events: Vec<NewEvent>) -> Result<Vec<EventId>, StoreError> {
        self.write(|reply| Write::Publish { events, reply }).await
    }

    /// Creates a task and its `task_created` event in one transaction.
    pub async fn create_task(&self, task: NewTask) -> Result<Task, StoreError> {
        self.task_command(TaskCommand::Create(task))
            .await?
            .ok_or(StoreError::Unavailable("created task vanished".into()))
    }

    /// Applies a patch and records `task_updated`; `None` when there is no such task.
    pub async fn update_task(
        &self,
        id: TaskId,
        patch: TaskPatch,
    ) -> Result<Option<Task>, StoreError> {
        self.task_command(TaskCommand::Update(id, patch)).await
    }

    /// Deletes a task and records `task_deleted`; `None` when there is no such task.
    pub async fn delete_task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        self.task_command(TaskCommand::Delete(id)).await
    }

    pub async fn get_task(&self, id: TaskId) -> Result<Option<Task>, StoreError> {
        self.reads.run(move |conn| tasks::get(conn, id)).await
    }

    pub async fn list_tasks(&self, status: Option<TaskStatus>) -> Result<Vec<Task>, StoreError> {
        self.reads
            .run(move |conn| tasks::list(conn, status.as_ref()))
            .await
    }

    /// Up to `limit` events after `after`, or [`Replay::Unavailable`] when `after` is
    /// unknown or older than the retained history.
    pub async fn replay(&self, after: EventId, limit: usize) -> Result<Replay, StoreError> {
        self.reads
            .run(move |conn| reader::replay(conn, after, limit))
            .await
    }

    /// The id to replay after, for a Mercure subscriber resuming from `point`; `None`
    /// when the history does not hold it (see [`reader::locate`]).
    pub async fn locate(&self, point: ResumePoint) -> Result<Option<EventId>, StoreError> {
        self.reads
            .run(move |conn| reader::locate(conn, &point))
            .await
    }

    /// Whether the store can commit a write now (for `/readyz`): goes through the writer,
    /// so a locked or failing database, or a stopped writer, is noticed.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.write(|reply| Write::Ping { reply }).await
    }

    /// Waits until the commit sink has had the frames of every write answered so far. The
    /// writer answers a group before it hands the group's frames over, so a ping queued
    /// now, answered in a later group, is answered only after them.
    pub async fn settle(&self) {
        let _ = self.ping().await;
    }

    /// Stops accepting writes, commits what is queued and waits for the writer to exit.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.writes.send(WriteOp::Close { reply }).await.is_ok() {
            let _ = done.await;
        }
    }

    async fn task_command(&self, command: TaskCommand) -> Result<Option<Task>, StoreError> {
        self.write(|reply| Write::Task { command, reply }).await
    }

    async fn write<T>(
        &self,
        write: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Write,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send(WriteOp::Write(write(reply)))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}
