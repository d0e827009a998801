//! Reads: a small pool of read-only connections, used from blocking threads, and the
//! queries they run (replay, history ranges, positions in time, a topic's newest event).
//!
//! WAL lets these run beside the writer without blocking it. The pool is capped, so ten
//! thousand clients resuming at once queue for a connection instead of opening ten
//! thousand files.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension};
use taskhub_core::mercure::{MercureFields, ResumePoint};
use taskhub_core::{EventFrame, EventId, EventType, Timestamp, Topic};
use taskhub_engine::{EngineError, IdRange, Order, Replay};
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

/// The columns a frame is rebuilt from, in [`frame`]'s order.
const FRAME_COLUMNS: &str = "id, event, topic, private, envelope, mercure";

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
    let range = IdRange {
        after,
        before: None,
    };
    Ok(Replay::Events(read(&tx, range, Order::Ascending, limit)?))
}

/// Up to `limit` events in `range`, in `order`.
pub(crate) fn read(
    conn: &Connection,
    range: IdRange,
    order: Order,
    limit: usize,
) -> Result<Vec<Arc<EventFrame>>, SqliteError> {
    let direction = match order {
        Order::Ascending => "ASC",
        Order::Descending => "DESC",
    };
    let before = range.before.map_or(i64::MAX, |id| id.get() as i64);
    conn.prepare_cached(&format!(
        "SELECT {FRAME_COLUMNS} FROM events WHERE id > ?1 AND id < ?2 \
         ORDER BY id {direction} LIMIT ?3"
    ))?
    .query_map(
        rusqlite::params![range.after.get(), before, limit as i64],
        frame,
    )?
    .map(|row| row?)
    .collect()
}

/// The newest event on `topic` (of the public ones only, without `private`): one look
/// into the `events_by_topic` index.
pub(crate) fn latest(
    conn: &Connection,
    topic: &Topic,
    private: bool,
) -> Result<Option<Arc<EventFrame>>, SqliteError> {
    conn.prepare_cached(&format!(
        "SELECT {FRAME_COLUMNS} FROM events WHERE topic = ?1 AND (?2 OR private = 0) \
         ORDER BY id DESC LIMIT 1"
    ))?
    .query_row(rusqlite::params![topic.as_str(), private], frame)
    .optional()?
    .transpose()
}

/// The id to replay after for the events committed at or after `at`: a binary search
/// over the ids the log holds (they are consecutive, and stamped in id order), a few
/// dozen index lookups even for millions of events.
pub(crate) fn position_at(conn: &Connection, at: Timestamp) -> Result<EventId, SqliteError> {
    let tx = conn.unchecked_transaction()?;
    let history = History::read(&tx)?;
    let Some(oldest) = history.oldest else {
        return Ok(EventId::new(history.last));
    };
    let mut statement =
        tx.prepare_cached("SELECT at FROM events WHERE id >= ?1 ORDER BY id LIMIT 1")?;
    // The first id in [low, high) stamped at or after `at`; `high` if none is.
    let (mut low, mut high) = (oldest, history.last + 1);
    while low < high {
        let middle = low + (high - low) / 2;
        let stamped: Option<Option<i64>> =
            statement.query_row([middle], |row| row.get(0)).optional()?;
        // A row the migration could not stamp counts as old.
        match stamped {
            Some(Some(millis)) if millis >= at.unix_millis() => high = middle,
            Some(_) => low = middle + 1,
            None => high = middle,
        }
    }
    Ok(EventId::new(low - 1))
}

/// Rebuilds a frame from a row of [`FRAME_COLUMNS`]; the inner error says the row is
/// not one TaskHub wrote.
fn frame(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Arc<EventFrame>, SqliteError>> {
    let id: u64 = row.get(0)?;
    let event: String = row.get(1)?;
    let topic: Option<String> = row.get(2)?;
    let private: bool = row.get(3)?;
    let envelope: String = row.get(4)?;
    let mercure: Option<String> = row.get(5)?;
    let corrupt = |what: String| SqliteError::Corrupt(format!("event {id}: corrupt {what}"));
    Ok((|| {
        let event_type = EventType::parse(&event).map_err(|e| corrupt(format!("type: {e}")))?;
        let topic = topic
            .map(|t| Topic::parse(&t))
            .transpose()
            .map_err(|e| corrupt(format!("topic: {e}")))?;
        let mercure = mercure
            .map(|stored| MercureFields::from_stored(&stored, &envelope))
            .transpose()
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(Arc::new(
            EventFrame::new(EventId::new(id), event_type, topic, private, &envelope)
                .with_mercure(mercure),
        ))
    })())
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
