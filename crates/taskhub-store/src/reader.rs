//! Reads: a small pool of read-only connections, used from blocking threads.
//!
//! WAL lets these run beside the writer without blocking it. The pool is capped, so ten
//! thousand clients resuming at once queue for a connection instead of opening ten
//! thousand files.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension};
use taskhub_core::mercure::{MercureFields, ResumePoint};
use taskhub_core::{EventFrame, EventId, EventType, Topic};
use taskhub_engine::{EngineError, Replay};
use tokio::sync::Semaphore;

use crate::error::SqliteError;
use crate::{DatabaseUrl, schema};

#[derive(Debug)]
pub(crate) struct ReadPool {
    url: DatabaseUrl,
    /// Idle connections. A std mutex: held only to push or pop, never across an await.
    idle: Mutex<Vec<Connection>>,
    /// Bounds the connections in use (and so the open files) to the pool size.
    permits: Semaphore,
}

impl ReadPool {
    pub(crate) fn new(url: DatabaseUrl, size: usize) -> Self {
        Self {
            url,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size.max(1)),
        }
    }

    /// Runs a query on a pooled connection, on tokio's blocking threads.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        query: impl FnOnce(&Connection) -> Result<T, SqliteError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| EngineError::Closed)?;
        let pool = Arc::clone(self);
        let result = tokio::task::spawn_blocking(move || {
            let conn = match pool.take_idle() {
                Some(conn) => conn,
                None => schema::open_reader(&pool.url)?,
            };
            let result = query(&conn);
            pool.give_back(conn);
            result
        })
        .await
        .map_err(|e| EngineError::Unavailable(format!("read task failed: {e}")))?;
        drop(permit);
        Ok(result?)
    }

    fn take_idle(&self) -> Option<Connection> {
        self.idle.lock().map_or(None, |mut idle| idle.pop())
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }
}

/// Reads the events after `after` in one read transaction, so the history bounds checked
/// and the rows returned agree even while the writer trims.
pub(crate) fn replay(
    conn: &Connection,
    after: EventId,
    limit: usize,
) -> Result<Replay, SqliteError> {
    let tx = conn.unchecked_transaction()?;
    if !History::read(&tx)?.resumable(after) {
        return Ok(Replay::Unavailable);
    }
    let mut statement = tx.prepare_cached(
        "SELECT id, event, topic, private, envelope, mercure FROM events \
         WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = statement.query_map(rusqlite::params![after.get(), limit as i64], |row| {
        Ok((
            row.get::<_, u64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, Option<String>>(2)?,
            row.get::<_, bool>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut frames = Vec::new();
    for row in rows {
        let (id, event, topic, private, envelope, mercure) = row?;
        let corrupt = |what: String| SqliteError::Corrupt(format!("event {id}: corrupt {what}"));
        let event_type = EventType::parse(&event).map_err(|e| corrupt(format!("type: {e}")))?;
        let topic = topic
            .map(|t| Topic::parse(&t))
            .transpose()
            .map_err(|e| corrupt(format!("topic: {e}")))?;
        let mercure = mercure
            .map(|stored| MercureFields::from_stored(&stored, &envelope))
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?;
        frames.push(Arc::new(
            EventFrame::new(EventId::new(id), event_type, topic, private, &envelope)
                .with_mercure(mercure),
        ));
    }
    Ok(Replay::Events(frames))
}

/// The id to replay after for a Mercure subscriber resuming from `point`: `earliest` is
/// just before the oldest event kept, `#N` is `N` while replay after it is possible, and
/// an update id is its newest event while the history holds it (ids may be reused, as
/// Mercure allows).
pub(crate) fn locate(
    conn: &Connection,
    point: &ResumePoint,
) -> Result<Option<EventId>, SqliteError> {
    let tx = conn.unchecked_transaction()?;
    let history = History::read(&tx)?;
    Ok(match point {
        ResumePoint::Earliest => Some(history.oldest_resumable()),
        ResumePoint::Event(id) => history.resumable(*id).then_some(*id),
        ResumePoint::Update(update) => tx
            .prepare_cached("SELECT id FROM events WHERE mercure_id = ?1 ORDER BY id DESC LIMIT 1")?
            .query_row([update.as_str()], |row| row.get(0))
            .optional()?
            .map(EventId::new),
        ResumePoint::Unknown => None,
    })
}

/// The bounds of the log, read inside the caller's transaction.
struct History {
    /// The last id issued.
    last: u64,
    /// The oldest id still kept, if any is.
    oldest: Option<u64>,
}

impl History {
    fn read(tx: &rusqlite::Transaction<'_>) -> Result<Self, SqliteError> {
        Ok(tx.query_row(
            "SELECT last_event_id, (SELECT MIN(id) FROM events) FROM event_log",
            [],
            |row| {
                Ok(Self {
                    last: row.get(0)?,
                    oldest: row.get(1)?,
                })
            },
        )?)
    }

    /// The id whose successors are exactly what the log still holds.
    fn oldest_resumable(&self) -> EventId {
        EventId::new(self.oldest.unwrap_or(self.last + 1) - 1)
    }

    /// Whether everything after `after` is still in the log (and `after` was issued).
    fn resumable(&self, after: EventId) -> bool {
        after.get() <= self.last && after >= self.oldest_resumable()
    }
}
