//! The single writer: a dedicated thread that owns the only read-write connection.
//!
//! Writes queue up on a channel while the previous transaction commits; the thread then
//! takes everything queued (up to [`MAX_BATCH`] operations) into one `BEGIN IMMEDIATE …
//! COMMIT`. So under load many publishes share one fsync, and at rest a lone publish
//! commits at once. Each operation runs in its own savepoint: one that fails (an unknown
//! task) is rolled back alone and the rest of the group still commits.
//!
//! Readiness probes (`WriteOp::Ping`) are answered after their group, by a heartbeat
//! committed in a transaction of its own: a probe proves a write reaches the disk, and
//! its page never shares, so never sinks, a group of publishes. Steps of trimming by age
//! (`WriteOp::Trim`) are committed after their group in the same way: each deletes at
//! most `Retention::TRIM_STEP` events, so publishes wait behind one step at most. Changes
//! to the webhook ledger (`WriteOp::Ledger`, `webhooks.rs`) are run the same way.

use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior, params};
use taskhub_core::{EventFrame, EventId, EventType, Task, Timestamp};
use taskhub_engine::{
    Answer, Applied, CommitSink, EngineError, Idempotency, NewEvent, NewTask, Retention, TaskPatch,
    task_event,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info};

use crate::error::SqliteError;
use crate::idempotency::{self, Scope};
use crate::space::FreeSpace;
use crate::tasks;
use crate::webhooks::LedgerOp;

/// Most operations committed in one transaction; bounds latency under a flood.
const MAX_BATCH: usize = 512;
/// Depth of the queue in front of the writer.
const QUEUE_DEPTH: usize = 4096;

pub(crate) enum WriteOp {
    Write(Write),
    /// A readiness probe: after its group (and that group's frames), commits a heartbeat
    /// in a transaction of its own and checks the free space; answered `Ok` only if both
    /// succeed. Being answered after every frame queued before it, it also settles.
    Ping {
        reply: oneshot::Sender<Result<(), EngineError>>,
    },
    /// A step of trimming by age: after its group, deletes up to [`Retention::TRIM_STEP`]
    /// of the oldest events stamped before `before`, in a transaction of its own, and
    /// answers how many it deleted.
    Trim {
        before: Timestamp,
        reply: oneshot::Sender<Result<usize, EngineError>>,
    },
    /// A change to the webhook ledger, run after its group in a transaction of its own.
    Ledger(LedgerOp),
    /// Commit what is queued before this, then stop.
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// One client-visible write, answered once its group commits.
pub(crate) enum Write {
    Publish {
        events: Vec<NewEvent>,
        idempotency: Option<Idempotency>,
        reply: oneshot::Sender<Result<Applied<Vec<EventId>>, EngineError>>,
    },
    Task {
        command: TaskCommand,
        idempotency: Option<Idempotency>,
        reply: oneshot::Sender<Result<Applied<Option<Task>>, EngineError>>,
    },
}

impl std::fmt::Debug for WriteOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Write(Write::Publish { .. }) => "Publish",
            Self::Write(Write::Task { .. }) => "Task",
            Self::Ping { .. } => "Ping",
            Self::Trim { .. } => "Trim",
            Self::Ledger(_) => "Ledger",
            Self::Close { .. } => "Close",
        })
    }
}

pub(crate) enum TaskCommand {
    Create(NewTask),
    Update(taskhub_core::TaskId, TaskPatch),
    Delete(taskhub_core::TaskId),
}

/// An operation's answer, held until the whole group has committed.
enum Staged {
    Publish(
        oneshot::Sender<Result<Applied<Vec<EventId>>, EngineError>>,
        Result<Applied<Vec<EventId>>, SqliteError>,
    ),
    Task(
        oneshot::Sender<Result<Applied<Option<Task>>, EngineError>>,
        Result<Applied<Option<Task>>, SqliteError>,
    ),
}

impl Staged {
    /// After a failed commit nothing the group did happened.
    fn fail(self, error: &SqliteError) {
        let error = || EngineError::Unavailable(error.to_string());
        match self {
            Self::Publish(reply, _) => drop(reply.send(Err(error()))),
            Self::Task(reply, _) => drop(reply.send(Err(error()))),
        }
    }

    fn answer(self) {
        match self {
            Self::Publish(reply, result) => drop(reply.send(result.map_err(Into::into))),
            Self::Task(reply, result) => drop(reply.send(result.map_err(Into::into))),
        }
    }
}

struct Writer {
    conn: Connection,
    /// The exclusive lock on the database's lock file (`schema::lock_exclusive`), held as
    /// long as this thread writes, so a second server on the same file is refused.
    _lock: std::fs::File,
    /// How many of the newest events to keep (age is trimmed by `WriteOp::Trim`).
    history_size: u64,
    /// The last id committed. Only this thread reads or writes it.
    last_id: EventId,
    sink: CommitSink,
    /// What the readiness probe measures after its heartbeat.
    space: FreeSpace,
}

pub(crate) fn spawn(
    conn: Connection,
    lock: std::fs::File,
    history_size: u64,
    sink: CommitSink,
    space: FreeSpace,
) -> Result<mpsc::Sender<WriteOp>, SqliteError> {
    let last_id: u64 =
        conn.query_row("SELECT last_event_id FROM event_log", [], |row| row.get(0))?;
    let writer = Writer {
        conn,
        _lock: lock,
        history_size: history_size.max(1),
        last_id: EventId::new(last_id),
        sink,
        space,
    };
    let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
    std::thread::Builder::new()
        .name("taskhub-writer".into())
        .spawn(move || writer.run(receiver))
        .map_err(|e| SqliteError::Unavailable(format!("cannot start the writer thread: {e}")))?;
    Ok(sender)
}

impl Writer {
    fn run(mut self, mut queue: mpsc::Receiver<WriteOp>) {
        info!(last_event_id = %self.last_id, "store writer started");
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = queue.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            let close = self.commit_group(&mut batch);
            if let Some(reply) = close {
                queue.close();
                // Anything that raced in before the close is still answered.
                while let Ok(op) = queue.try_recv() {
                    batch.push(op);
                }
                self.commit_group(&mut batch);
                info!(last_event_id = %self.last_id, "store writer stopped");
                // The connection and the file lock go before the answer: once `close`
                // returns, another store may open the file.
                drop(self);
                let _ = reply.send(());
                return;
            }
        }
    }

    /// Commits one group; returns the close request if the group held one.
    fn commit_group(&mut self, batch: &mut Vec<WriteOp>) -> Option<oneshot::Sender<()>> {
        let mut close = None;
        let mut staged = Vec::with_capacity(batch.len());
        let mut frames = Vec::new();
        let mut probes = Vec::new();
        let mut trims = Vec::new();
        let mut ledger = Vec::new();
        let before = self.last_id;
        // Probes, trims and the close are answered after the group; the writes are the group.
        let writes = batch.drain(..).filter_map(|op| match op {
            WriteOp::Write(write) => Some(write),
            WriteOp::Ping { reply } => {
                probes.push(reply);
                None
            }
            WriteOp::Trim {
                before: cutoff,
                reply,
            } => {
                trims.push((cutoff, reply));
                None
            }
            WriteOp::Ledger(op) => {
                ledger.push(op);
                None
            }
            WriteOp::Close { reply } => {
                close = Some(reply);
                None
            }
        });
        let result = self.transaction(writes, &mut staged, &mut frames);
        match result {
            Ok(()) => {
                // Answers first: the callers' wake-ups then queue ahead of the subscribers'
                // (a hub with 10,000 streams wakes 10,000 tasks per event), and how soon a
                // publisher hears back bounds how fast it publishes. The frames follow at
                // once, on this thread; `EventLog::settle` waits for them.
                staged.into_iter().for_each(Staged::answer);
                if !frames.is_empty() {
                    (self.sink)(frames);
                }
            }
            Err(e) => {
                error!(error = %e, "group commit failed; nothing in it was stored");
                self.last_id = before;
                staged.into_iter().for_each(|s| s.fail(&e));
            }
        }
        for (cutoff, reply) in trims {
            let trimmed = self.trim_expired(cutoff).map_err(|e| {
                error!(error = %e, "trimming expired events failed");
                EngineError::Unavailable(e.to_string())
            });
            let _ = reply.send(trimmed);
        }
        for op in ledger {
            op.run(&mut self.conn);
        }
        if !probes.is_empty() {
            let ready = self.heartbeat().map_err(|e| e.to_string());
            for reply in probes {
                let _ = reply.send(ready.clone().map_err(EngineError::Unavailable));
            }
        }
        close
    }

    /// Whether the store can commit a write now: rewrites the heartbeat row in a
    /// transaction of its own (a commit that needs the disk, so a full, read-only or
    /// failing one says so), then checks the free space (`space.rs`).
    fn heartbeat(&mut self) -> Result<(), SqliteError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached("UPDATE heartbeat SET at = ?1")?
            .execute([Timestamp::now().to_string()])?;
        tx.commit()?;
        self.space.check()
    }

    /// Deletes up to `Retention::TRIM_STEP` of the oldest events stamped before `before`,
    /// in a transaction of its own: one step holds the writer for milliseconds, and the
    /// publishes queued meanwhile commit before the next step.
    fn trim_expired(&mut self, before: Timestamp) -> Result<usize, SqliteError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let deleted = tx
            .prepare_cached(
                "DELETE FROM events WHERE id IN \
                 (SELECT id FROM events ORDER BY id LIMIT ?1) AND at < ?2",
            )?
            .execute(params![Retention::TRIM_STEP as i64, before.unix_millis()])?;
        tx.commit()?;
        Ok(deleted)
    }

    fn transaction(
        &mut self,
        writes: impl Iterator<Item = Write>,
        staged: &mut Vec<Staged>,
        frames: &mut Vec<Arc<EventFrame>>,
    ) -> Result<(), SqliteError> {
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut last_id = self.last_id;
        for write in writes {
            let (frames_before, last_before) = (frames.len(), last_id);
            let savepoint = tx.savepoint()?;
            let (answer, ok) = match write {
                Write::Publish {
                    events,
                    idempotency,
                    reply,
                } => {
                    let result = idempotency::once(
                        &savepoint,
                        Scope::Events,
                        idempotency.as_ref(),
                        || {
                            events
                                .into_iter()
                                .map(|event| append(&savepoint, &mut last_id, event, frames))
                                .collect()
                        },
                        |ids: &Vec<EventId>| Answer::events(ids),
                        |answer| answer.event_ids().map_err(|_| SqliteError::KeyReused),
                    );
                    let ok = result.is_ok();
                    (Staged::Publish(reply, result), ok)
                }
                Write::Task {
                    command,
                    idempotency,
                    reply,
                } => {
                    let result = idempotency::once(
                        &savepoint,
                        Scope::Tasks,
                        idempotency.as_ref(),
                        || apply_task(&savepoint, &mut last_id, command, frames),
                        |task| Answer::Task(task.clone()),
                        |answer| answer.into_task().map_err(|_| SqliteError::KeyReused),
                    );
                    let ok = result.is_ok();
                    (Staged::Task(reply, result), ok)
                }
            };
            if ok {
                savepoint.commit()?;
            } else {
                // Dropping a savepoint rolls it back; the rest of the group goes on.
                drop(savepoint);
                frames.truncate(frames_before);
                last_id = last_before;
            }
            staged.push(answer);
        }
        if last_id != self.last_id {
            tx.prepare_cached("UPDATE event_log SET last_event_id = ?1")?
                .execute([last_id.get()])?;
            // Bounded, so a smaller `--history-size` after a restart trims the surplus over
            // many groups rather than holding the writer for one long delete: ids are
            // unique integers, so the `most` ids from the oldest one hold at most `most`
            // events. A plain rowid range, which costs next to nothing when it is empty
            // (the usual case); an `IN (SELECT … LIMIT)` form cost a temporary table and
            // a re-prepare of the statement every other group.
            let keep_after = last_id.get().saturating_sub(self.history_size);
            let most = Retention::TRIM_STEP as u64 + (last_id.get() - self.last_id.get());
            tx.prepare_cached(
                "DELETE FROM events WHERE id <= ?1 \
                 AND id < (SELECT min(id) FROM events) + ?2",
            )?
            .execute([keep_after, most])?;
        }
        tx.commit()?;
        self.last_id = last_id;
        Ok(())
    }
}

/// Inserts one event with the next id and encodes its frame. A Mercure update's frame
/// keeps its fields as published (its data too), so nothing is read back from the row.
fn append(
    conn: &Connection,
    last_id: &mut EventId,
    event: NewEvent,
    frames: &mut Vec<Arc<EventFrame>>,
) -> Result<EventId, SqliteError> {
    let id = last_id.next();
    let at = Timestamp::now();
    let (envelope, frame) = event.commit(id, at);
    let mercure = frame.mercure_fields();
    conn.prepare_cached(
        "INSERT INTO events (id, event, topic, private, envelope, mercure_id, mercure, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        id.get(),
        frame.event_type().as_str(),
        frame.topic().map(|t| t.as_str()),
        frame.is_private(),
        envelope,
        mercure.map(|fields| fields.id.as_str()),
        mercure.map(|fields| fields.to_stored()),
        at.unix_millis(),
    ])?;
    frames.push(Arc::new(frame));
    *last_id = id;
    Ok(id)
}

fn apply_task(
    conn: &Connection,
    last_id: &mut EventId,
    command: TaskCommand,
    frames: &mut Vec<Arc<EventFrame>>,
) -> Result<Option<Task>, SqliteError> {
    let (task, event_type) = match command {
        TaskCommand::Create(new) => (Some(tasks::insert(conn, new)?), EventType::task_created()),
        TaskCommand::Update(id, patch) => {
            (tasks::update(conn, id, patch)?, EventType::task_updated())
        }
        TaskCommand::Delete(id) => (tasks::delete(conn, id)?, EventType::task_deleted()),
    };
    if let Some(task) = &task {
        append(conn, last_id, task_event(event_type, task), frames)?;
    }
    Ok(task)
}
