//! The tables, the connection settings every connection shares, and migrations.

use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::DatabaseUrl;
use crate::error::SqliteError;

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r"
    CREATE TABLE events (
        id       INTEGER PRIMARY KEY,
        event    TEXT    NOT NULL,
        topic    TEXT,
        private  INTEGER NOT NULL,
        envelope TEXT    NOT NULL
    );
    -- The last id ever issued: survives trimming every row of `events`.
    CREATE TABLE event_log (
        singleton     INTEGER PRIMARY KEY CHECK (singleton = 1),
        last_event_id INTEGER NOT NULL
    );
    INSERT INTO event_log (singleton, last_event_id) VALUES (1, 0);
    CREATE TABLE tasks (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        title       TEXT NOT NULL,
        description TEXT,
        status      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE INDEX tasks_by_status ON tasks (status, id);
",
    r"
    -- Events published through Mercure: the update's id, and the rest of what Mercure
    -- adds to the envelope (taskhub_core::mercure::MercureFields, as JSON).
    ALTER TABLE events ADD COLUMN mercure_id TEXT;
    ALTER TABLE events ADD COLUMN mercure TEXT;
    CREATE INDEX events_by_mercure_id ON events (mercure_id) WHERE mercure_id IS NOT NULL;
",
    r"
    -- The keys of retry-safe writes (`Idempotency-Key`), until they expire (Unix seconds):
    -- the request's fingerprint, and the answer a retry gets (taskhub_engine::Answer).
    -- Publishes and task changes have a scope each, as in the cluster's engines.
    CREATE TABLE idempotency (
        scope       TEXT    NOT NULL,
        key         TEXT    NOT NULL,
        fingerprint TEXT    NOT NULL,
        answer      TEXT    NOT NULL,
        expires_at  INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
    ) WITHOUT ROWID;
    CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);
",
    r"
    -- Rewritten by every readiness probe (`/readyz`) in a commit of its own, so the probe
    -- proves that a write reaches the disk, not only that the writer answers; `at` is
    -- when one last did.
    CREATE TABLE heartbeat (
        singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
        at        TEXT NOT NULL
    );
    INSERT INTO heartbeat (singleton, at) VALUES (1, '');
",
    r"
    -- When each event was committed (Unix milliseconds, the envelope's `timestamp`), for
    -- trimming by age and reading from a time; events from before are stamped from their
    -- envelopes. And the newest event on a topic, found without a scan.
    ALTER TABLE events ADD COLUMN at INTEGER;
    UPDATE events SET at = CAST(ROUND(
        (julianday(json_extract(envelope, '$.timestamp')) - 2440587.5) * 86400000
    ) AS INTEGER);
    CREATE INDEX events_by_topic ON events (topic, id);
",
    r"
    -- Webhooks (taskhub_engine::WebhookLedger): where delivery to each target (its URL)
    -- stands, and the events parked on it after failing past the maximum age, with their
    -- envelopes (so a parked event outlives the log's retention). Times in Unix ms.
    CREATE TABLE webhook_cursors (
        target          TEXT    PRIMARY KEY,
        cursor          INTEGER NOT NULL,
        generation      INTEGER NOT NULL,
        replayed_at     INTEGER,
        last_attempt_at INTEGER,
        last_status     INTEGER,
        last_error      TEXT
    ) WITHOUT ROWID;
    CREATE TABLE webhook_parked (
        target      TEXT    NOT NULL,
        id          INTEGER NOT NULL,
        envelope    TEXT    NOT NULL,
        parked_at   INTEGER NOT NULL,
        last_status INTEGER,
        last_error  TEXT    NOT NULL,
        requeued_at INTEGER,
        PRIMARY KEY (target, id)
    ) WITHOUT ROWID;
",
];

/// How long a connection waits on a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Takes an exclusive lock on `<database>.lock`, or explains why another server holds it.
///
/// Each server keeps the last event id in memory and owns the only writer, so two servers
/// on one file would hand out the same ids. The lock is the kernel's (`flock`): it is
/// released when the process ends, even by SIGKILL.
pub(crate) fn lock_exclusive(url: &DatabaseUrl) -> Result<std::fs::File, SqliteError> {
    let mut path = url.path().as_os_str().to_owned();
    path.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            // Named by the directory, where the fault is (missing, or not writable).
            let database = url.path();
            let directory = match database.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.display().to_string(),
                _ => ".".to_owned(),
            };
            SqliteError::Unavailable(format!(
                "cannot create the database {} in the directory {directory}: {e}",
                database.display()
            ))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(SqliteError::Unavailable(format!(
            "another TaskHub server is already using {}: several servers cannot share one \
             SQLite file (each would hand out the same event ids). To run several nodes, \
             use --redis-url and a postgres:// --database-url (see docs/cluster.md)",
            url.path().display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(SqliteError::Unavailable(format!(
            "cannot lock {}: {e}",
            path.to_string_lossy()
        ))),
    }
}

/// Opens the writer's connection: creates the file, turns on WAL and migrates.
pub(crate) fn open_writer(url: &DatabaseUrl) -> Result<Connection, SqliteError> {
    let mut conn = Connection::open(url.path())?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers never block the writer. FULL: a commit is on disk before we answer.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Opens a read-only connection for replay and queries.
pub(crate) fn open_reader(url: &DatabaseUrl) -> Result<Connection, SqliteError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(url.path(), flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), SqliteError> {
    let applied: usize = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if applied > MIGRATIONS.len() {
        return Err(SqliteError::Unavailable(format!(
            "the database was written by a newer TaskHub (schema {applied}, this build knows {})",
            MIGRATIONS.len()
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", index + 1)?;
        tx.commit()?;
    }
    Ok(())
}
