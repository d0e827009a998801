//! The webhook ledger's tables (`webhook_cursors`, `webhook_parked`): where delivery to
//! each target stands and the events parked on it. Written only by the writer thread,
//! each change in a transaction of its own; read by `GET /webhooks` from a reader.
//!
//! One process owns the file (the lock `schema::lock_exclusive` takes), so it is the only
//! holder of every target's lease: claiming always succeeds.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use taskhub_core::{EventId, Timestamp};
use taskhub_engine::{Advanced, ParkedEvent, Redelivery, WebhookProgress, WebhookState};
use tokio::sync::oneshot;

use crate::error::SqliteError;

/// Most parked events one state lists (the oldest ones); the rest stay parked.
pub(crate) const PARKED_LISTED: usize = 100;

/// A change to the ledger, run by the writer after its group.
pub(crate) enum LedgerOp {
    Ensure {
        target: String,
        start: EventId,
        reply: oneshot::Sender<Result<WebhookState, taskhub_engine::EngineError>>,
    },
    Advance {
        target: String,
        progress: WebhookProgress,
        reply: oneshot::Sender<Result<Advanced, taskhub_engine::EngineError>>,
    },
    Redeliver {
        target: String,
        request: Redelivery,
        at: Timestamp,
        reply: oneshot::Sender<Result<bool, taskhub_engine::EngineError>>,
    },
}

impl LedgerOp {
    /// Runs the change in a transaction of its own and answers it.
    pub(crate) fn run(self, conn: &mut Connection) {
        match self {
            Self::Ensure {
                target,
                start,
                reply,
            } => {
                let result = in_transaction(conn, |tx| ensure(tx, &target, start));
                let _ = reply.send(result.map_err(Into::into));
            }
            Self::Advance {
                target,
                progress,
                reply,
            } => {
                let result = in_transaction(conn, |tx| advance(tx, &target, &progress));
                let _ = reply.send(result.map_err(Into::into));
            }
            Self::Redeliver {
                target,
                request,
                at,
                reply,
            } => {
                let result = in_transaction(conn, |tx| redeliver(tx, &target, request, at));
                let _ = reply.send(result.map_err(Into::into));
            }
        }
    }
}

fn in_transaction<T>(
    conn: &mut Connection,
    work: impl FnOnce(&Connection) -> Result<T, SqliteError>,
) -> Result<T, SqliteError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let result = work(&tx)?;
    tx.commit()?;
    Ok(result)
}

fn ensure(conn: &Connection, target: &str, start: EventId) -> Result<WebhookState, SqliteError> {
    conn.prepare_cached(
        "INSERT INTO webhook_cursors (target, cursor, generation) VALUES (?1, ?2, 0) \
         ON CONFLICT (target) DO NOTHING",
    )?
    .execute(params![target, start.get()])?;
    inspect(conn, target)?.ok_or_else(|| SqliteError::Corrupt("a webhook cursor vanished".into()))
}

/// The target's state and its oldest parked events.
pub(crate) fn inspect(
    conn: &Connection,
    target: &str,
) -> Result<Option<WebhookState>, SqliteError> {
    let row = conn
        .prepare_cached(
            "SELECT cursor, generation, replayed_at, last_attempt_at, last_status, last_error \
             FROM webhook_cursors WHERE target = ?1",
        )?
        .query_row([target], |row| {
            Ok((
                row.get::<_, u64>(0)?,
                row.get::<_, u64>(1)?,
                row.get::<_, Option<i64>>(2)?,
                row.get::<_, Option<i64>>(3)?,
                row.get::<_, Option<u16>>(4)?,
                row.get::<_, Option<String>>(5)?,
            ))
        })
        .optional()?;
    let Some((cursor, generation, replayed_at, last_attempt_at, last_status, last_error)) = row
    else {
        return Ok(None);
    };
    let parked = conn
        .prepare_cached(
            "SELECT id, envelope, parked_at, last_status, last_error, requeued_at \
             FROM webhook_parked WHERE target = ?1 ORDER BY id LIMIT ?2",
        )?
        .query_map(params![target, PARKED_LISTED as i64], |row| {
            Ok(ParkedEvent {
                id: EventId::new(row.get(0)?),
                envelope: row.get(1)?,
                parked_at: Timestamp::from_unix_millis(row.get(2)?),
                last_status: row.get(3)?,
                last_error: row.get(4)?,
                requeued_at: row
                    .get::<_, Option<i64>>(5)?
                    .map(Timestamp::from_unix_millis),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(WebhookState {
        cursor: EventId::new(cursor),
        generation,
        replayed_at: replayed_at.map(Timestamp::from_unix_millis),
        last_attempt_at: last_attempt_at.map(Timestamp::from_unix_millis),
        last_status,
        last_error,
        parked,
    }))
}

fn advance(
    conn: &Connection,
    target: &str,
    progress: &WebhookProgress,
) -> Result<Advanced, SqliteError> {
    let generation: Option<u64> = conn
        .prepare_cached("SELECT generation FROM webhook_cursors WHERE target = ?1")?
        .query_row([target], |row| row.get(0))
        .optional()?;
    if generation != Some(progress.generation) {
        return Ok(Advanced::Stale);
    }
    if let Some(cursor) = progress.cursor {
        conn.prepare_cached("UPDATE webhook_cursors SET cursor = ?2 WHERE target = ?1")?
            .execute(params![target, cursor.get()])?;
    }
    if let Some(attempt) = &progress.attempt {
        conn.prepare_cached(
            "UPDATE webhook_cursors SET last_attempt_at = ?2, last_status = ?3, last_error = ?4 \
             WHERE target = ?1",
        )?
        .execute(params![
            target,
            attempt.at.unix_millis(),
            attempt.status,
            attempt.error
        ])?;
    }
    if let Some(parked) = &progress.park {
        conn.prepare_cached(
            "INSERT INTO webhook_parked \
             (target, id, envelope, parked_at, last_status, last_error, requeued_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL) \
             ON CONFLICT (target, id) DO UPDATE SET parked_at = ?4, last_status = ?5, \
             last_error = ?6, requeued_at = NULL",
        )?
        .execute(params![
            target,
            parked.id.get(),
            parked.envelope,
            parked.parked_at.unix_millis(),
            parked.last_status,
            parked.last_error,
        ])?;
    }
    if let Some(id) = progress.unpark {
        conn.prepare_cached("DELETE FROM webhook_parked WHERE target = ?1 AND id = ?2")?
            .execute(params![target, id.get()])?;
    }
    Ok(Advanced::Written)
}

fn redeliver(
    conn: &Connection,
    target: &str,
    request: Redelivery,
    at: Timestamp,
) -> Result<bool, SqliteError> {
    let found = match request {
        Redelivery::After(id) => conn
            .prepare_cached(
                "UPDATE webhook_cursors SET cursor = ?2, replayed_at = ?3 WHERE target = ?1",
            )?
            .execute(params![target, id.get(), at.unix_millis()])?,
        Redelivery::Parked(id) => conn
            .prepare_cached(
                "UPDATE webhook_parked SET requeued_at = ?3 WHERE target = ?1 AND id = ?2",
            )?
            .execute(params![target, id.get(), at.unix_millis()])?,
    };
    if found == 0 {
        return Ok(false);
    }
    conn.prepare_cached(
        "UPDATE webhook_cursors SET generation = generation + 1 WHERE target = ?1",
    )?
    .execute([target])?;
    Ok(true)
}
