//! The `idempotency` table: the keys of retry-safe writes, each with its request's
//! fingerprint and its answer, written in the savepoint of the write it names.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};
use taskhub_engine::{Answer, Applied, Idempotency};

use crate::error::SqliteError;

/// Expired keys deleted per keyed write: each keyed write clears more than it adds, so
/// the table holds little beyond the live keys, and unkeyed writes never pay for it.
const PURGE_BATCH: u32 = 16;

/// Which writes share a key space: a key names one publish, or one task change (the
/// cluster keeps the first kind in Redis and the second in PostgreSQL).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scope {
    Events,
    Tasks,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Tasks => "tasks",
        }
    }
}

/// Runs `write` unless `idempotency`'s key was recorded in `scope`: then answers from the
/// record, or refuses a different request. Otherwise records the key with `write`'s
/// answer, in the caller's savepoint.
pub(crate) fn once<T>(
    conn: &Connection,
    scope: Scope,
    idempotency: Option<&Idempotency>,
    write: impl FnOnce() -> Result<T, SqliteError>,
    answer: impl FnOnce(&T) -> Answer,
    from_answer: impl FnOnce(Answer) -> Result<T, SqliteError>,
) -> Result<Applied<T>, SqliteError> {
    let Some(idempotency) = idempotency else {
        return write().map(Applied::fresh);
    };
    let now = unix_now();
    if let Some((fingerprint, stored)) = recorded(conn, scope, idempotency, now)? {
        idempotency
            .check(&fingerprint)
            .map_err(|_| SqliteError::KeyReused)?;
        let answer = Answer::from_stored(&stored)
            .map_err(|_| SqliteError::Corrupt(format!("idempotency record {stored:?}")))?;
        return from_answer(answer).map(Applied::replayed);
    }
    let value = write()?;
    let expires_at = now.saturating_add(idempotency.ttl_secs());
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency (scope, key, fingerprint, answer, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        scope.as_str(),
        idempotency.key.as_str(),
        idempotency.fingerprint.as_str(),
        answer(&value).to_stored(),
        sql_int(expires_at),
    ])?;
    conn.prepare_cached(
        "DELETE FROM idempotency WHERE (scope, key) IN \
         (SELECT scope, key FROM idempotency WHERE expires_at <= ?1 \
          ORDER BY expires_at LIMIT ?2)",
    )?
    .execute(params![sql_int(now), PURGE_BATCH])?;
    Ok(Applied::fresh(value))
}

/// The fingerprint and answer recorded under the key, unless none is or it expired.
fn recorded(
    conn: &Connection,
    scope: Scope,
    idempotency: &Idempotency,
    now: u64,
) -> Result<Option<(String, String)>, SqliteError> {
    Ok(conn
        .prepare_cached(
            "SELECT fingerprint, answer FROM idempotency \
             WHERE scope = ?1 AND key = ?2 AND expires_at > ?3",
        )?
        .query_row(
            params![scope.as_str(), idempotency.key.as_str(), sql_int(now)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// SQLite's integers are signed; seconds since 1970 fit for a few hundred billion years.
fn sql_int(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}
