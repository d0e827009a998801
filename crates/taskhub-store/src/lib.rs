//! TaskHub's embedded store: one SQLite file (WAL) holding the event log and the tasks.
//!
//! It is one engine of `taskhub-engine`'s contract: [`Store`] implements both
//! [`EventLog`] and [`TaskStore`], so a task change and its event commit together.
//!
//! # Layout
//! - [`Store`]: the cheap-to-clone handle the server uses.
//! - `writer`: the single writer thread. It group-commits whatever writes are queued into
//!   one transaction (one fsync for many publishes), assigns event ids, encodes each event
//!   once, and hands the committed frames to the server in id order.
//! - `reader`: a small pool of read-only connections for replay, history and task queries.
//! - `trim_by_age` (here): the background task that deletes events past their age, in
//!   bounded steps the writer runs between groups.
//! - `schema`, `tasks`: the tables and the task statements; `idempotency`: the keys of
//!   retry-safe writes, recorded in the savepoint of the write each one names.
//! - `webhooks`: the webhook ledger's tables ([`WebhookLedger`]), changed by the writer.
//! - `space`: the free space the readiness probe checks after its heartbeat commit.
//! - `error`: SQLite's failures, and the [`EngineError`] each one becomes.
//!
//! # Invariants
//! - An id is handed out only by the writer, inside the transaction that stores the event,
//!   so ids are strictly increasing in commit order and never reused, even after trimming.
//! - A caller is answered only after `COMMIT` returned with `synchronous=FULL`: an
//!   acknowledged write survives a crash one instant later.
//! - Committed frames reach the commit sink in id order, after they are durable, so a
//!   subscriber that subscribes *before* reading history misses nothing. A group's
//!   callers are answered just before its frames are handed over
//!   ([`EventLog::settle`] waits for those).

mod database_url;
mod error;
mod idempotency;
mod reader;
mod schema;
mod space;
mod tasks;
mod webhooks;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use taskhub_core::mercure::ResumePoint;
use taskhub_core::{EventFrame, EventId, Task, TaskId, TaskStatus, Timestamp, Topic};
use taskhub_engine::{
    Advanced, Applied, CommitSink, EngineError, EventLog, IdRange, Idempotency, NewEvent, NewTask,
    Order, Redelivery, Replay, Retention, TaskPatch, TaskStore, WebhookLedger, WebhookProgress,
    WebhookState,
};
use tokio::sync::{mpsc, oneshot};

pub use database_url::{DatabaseUrl, ParseDatabaseUrlError};

use reader::ReadPool;
use space::FreeSpace;
use webhooks::LedgerOp;
use writer::{TaskCommand, Write, WriteOp};

/// How the store is run.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How much history to keep for replay.
    pub retention: Retention,
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
    /// Opens (creating if needed) the SQLite file, migrates it and starts the writer (and,
    /// with a maximum age, the trimmer: call it inside a tokio runtime).
    pub fn open(
        url: &DatabaseUrl,
        options: StoreOptions,
        sink: CommitSink,
    ) -> Result<Self, EngineError> {
        let lock = schema::lock_exclusive(url)?;
        let connection = schema::open_writer(url)?;
        let space = FreeSpace::new(url.path().to_owned());
        let history_size = options.retention.max_events;
        let writes = writer::spawn(connection, lock, history_size, sink, space)?;
        if let Some(period) = options.retention.trim_period() {
            tokio::spawn(trim_by_age(writes.downgrade(), options.retention, period));
        }
        let reads = Arc::new(ReadPool::new(url.clone(), options.readers));
        Ok(Self { writes, reads })
    }

    /// Whether the store can commit a write now: the writer commits a heartbeat (so a
    /// locked, read-only, full or failing database, or a stopped writer, is noticed) and
    /// at least `space::RESERVE_BYTES` must be free beside the file.
    async fn ping_writer(&self) -> Result<(), EngineError> {
        self.ask_writer(|reply| WriteOp::Ping { reply }).await
    }

    /// Stops accepting writes, commits what is queued and waits for the writer to exit.
    /// Closing again returns at once.
    async fn close_writer(&self) {
        let (reply, done) = oneshot::channel();
        if self.writes.send(WriteOp::Close { reply }).await.is_ok() {
            let _ = done.await;
        }
    }

    async fn task_command(
        &self,
        command: TaskCommand,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Option<Task>>, EngineError> {
        self.write(|reply| Write::Task {
            command,
            idempotency,
            reply,
        })
        .await
    }

    async fn write<T>(
        &self,
        write: impl FnOnce(oneshot::Sender<Result<T, EngineError>>) -> Write,
    ) -> Result<T, EngineError> {
        self.ask_writer(|reply| WriteOp::Write(write(reply))).await
    }

    /// Queues an operation for the writer and awaits its answer.
    async fn ask_writer<T>(
        &self,
        op: impl FnOnce(oneshot::Sender<Result<T, EngineError>>) -> WriteOp,
    ) -> Result<T, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send(op(reply))
            .await
            .map_err(|_| EngineError::Closed)?;
        answer.await.map_err(|_| EngineError::Closed)?
    }
}

/// Every `period`, asks the writer to delete the events older than the retention's maximum age, a bounded
/// step at a time, each followed by a pause as long as it took (publishes queued meanwhile
/// commit between steps). Ends when the writer
/// does: the store holds the only strong handle on its queue.
async fn trim_by_age(writes: mpsc::WeakSender<WriteOp>, retention: Retention, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        loop {
            let Some(writes) = writes.upgrade() else {
                return;
            };
            let Some(before) = retention.expired_before(Timestamp::now()) else {
                return;
            };
            let (reply, answer) = oneshot::channel();
            let started = tokio::time::Instant::now();
            if writes.send(WriteOp::Trim { before, reply }).await.is_err() {
                return;
            }
            drop(writes);
            match answer.await {
                // More may be expired: leave the writer to publishes as long again.
                Ok(Ok(deleted)) if deleted == Retention::TRIM_STEP => {
                    tokio::time::sleep(started.elapsed()).await;
                }
                Ok(_) => break,
                Err(_) => return,
            }
        }
    }
}

impl EventLog for Store {
    async fn publish(
        &self,
        events: Vec<NewEvent>,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Vec<EventId>>, EngineError> {
        self.write(|reply| Write::Publish {
            events,
            idempotency,
            reply,
        })
        .await
    }

    async fn replay(&self, after: EventId, limit: usize) -> Result<Replay, EngineError> {
        self.reads
            .run(move |conn| reader::replay(conn, after, limit))
            .await
    }

    async fn read(
        &self,
        range: IdRange,
        order: Order,
        limit: usize,
    ) -> Result<Vec<Arc<EventFrame>>, EngineError> {
        self.reads
            .run(move |conn| reader::read(conn, range, order, limit))
            .await
    }

    async fn position_at(&self, at: Timestamp) -> Result<EventId, EngineError> {
        self.reads
            .run(move |conn| reader::position_at(conn, at))
            .await
    }

    async fn latest(
        &self,
        topic: &Topic,
        private: bool,
    ) -> Result<Option<Arc<EventFrame>>, EngineError> {
        let topic = topic.clone();
        self.reads
            .run(move |conn| reader::latest(conn, &topic, private))
            .await
    }

    async fn locate(&self, point: ResumePoint) -> Result<Option<EventId>, EngineError> {
        self.reads
            .run(move |conn| reader::locate(conn, &point))
            .await
    }

    async fn ping(&self) -> Result<(), EngineError> {
        self.ping_writer().await
    }

    /// The writer answers a ping only after it handed over the frames of its group and of
    /// every group before it. (Whether the ping found the store ready does not matter here.)
    async fn settle(&self) {
        let _ = self.ping_writer().await;
    }

    async fn close(&self) {
        self.close_writer().await;
    }
}

/// The tasks share the events' file and writer: a change and its event are one savepoint
/// of one transaction.
impl TaskStore for Store {
    async fn create_task(
        &self,
        task: NewTask,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Task>, EngineError> {
        self.task_command(TaskCommand::Create(task), idempotency)
            .await?
            .transpose()
            .ok_or(EngineError::Unavailable("created task vanished".into()))
    }

    async fn update_task(
        &self,
        id: TaskId,
        patch: TaskPatch,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Option<Task>>, EngineError> {
        self.task_command(TaskCommand::Update(id, patch), idempotency)
            .await
    }

    async fn delete_task(
        &self,
        id: TaskId,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Option<Task>>, EngineError> {
        self.task_command(TaskCommand::Delete(id), idempotency)
            .await
    }

    async fn get_task(&self, id: TaskId) -> Result<Option<Task>, EngineError> {
        self.reads.run(move |conn| tasks::get(conn, id)).await
    }

    async fn list_tasks(&self, status: Option<TaskStatus>) -> Result<Vec<Task>, EngineError> {
        self.reads
            .run(move |conn| tasks::list(conn, status.as_ref()))
            .await
    }

    async fn ping(&self) -> Result<(), EngineError> {
        self.ping_writer().await
    }

    async fn close(&self) {
        self.close_writer().await;
    }
}

/// The ledger shares the log's file, so it survives what the log survives; its changes
/// go through the writer.
impl WebhookLedger for Store {
    /// This process holds the file's lock, so it is the only deliverer there is.
    async fn claim(
        &self,
        _target: &str,
        _holder: &str,
        _lease: Duration,
    ) -> Result<bool, EngineError> {
        Ok(true)
    }

    async fn release(&self, _target: &str, _holder: &str) -> Result<(), EngineError> {
        Ok(())
    }

    async fn webhook_state(
        &self,
        target: &str,
        start: EventId,
    ) -> Result<WebhookState, EngineError> {
        let target = target.to_owned();
        self.ask_writer(|reply| {
            WriteOp::Ledger(LedgerOp::Ensure {
                target,
                start,
                reply,
            })
        })
        .await
    }

    async fn inspect_webhook(&self, target: &str) -> Result<Option<WebhookState>, EngineError> {
        let target = target.to_owned();
        self.reads
            .run(move |conn| webhooks::inspect(conn, &target))
            .await
    }

    async fn advance(
        &self,
        target: &str,
        _holder: &str,
        progress: WebhookProgress,
    ) -> Result<Advanced, EngineError> {
        let target = target.to_owned();
        self.ask_writer(|reply| {
            WriteOp::Ledger(LedgerOp::Advance {
                target,
                progress,
                reply,
            })
        })
        .await
    }

    async fn redeliver(
        &self,
        target: &str,
        request: Redelivery,
        at: Timestamp,
    ) -> Result<bool, EngineError> {
        let target = target.to_owned();
        self.ask_writer(|reply| {
            WriteOp::Ledger(LedgerOp::Redeliver {
                target,
                request,
                at,
                reply,
            })
        })
        .await
    }
}
