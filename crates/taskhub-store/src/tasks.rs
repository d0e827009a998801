//! Task rows: the statements behind the tasks API.

use rusqlite::{Connection, OptionalExtension, Row, params};
use taskhub_core::{Task, TaskId, TaskStatus, Timestamp};
use taskhub_engine::{NewTask, TaskPatch};

use crate::error::SqliteError;

const COLUMNS: &str = "id, title, description, status, created_at, updated_at";

pub(crate) fn get(conn: &Connection, id: TaskId) -> Result<Option<Task>, SqliteError> {
    let sql = format!("SELECT {COLUMNS} FROM tasks WHERE id = ?1");
    let task = conn
        .prepare_cached(&sql)?
        .query_row([id.get()], from_row)
        .optional()?;
    task.transpose()
}

pub(crate) fn list(
    conn: &Connection,
    status: Option<&TaskStatus>,
) -> Result<Vec<Task>, SqliteError> {
    let sql = format!("SELECT {COLUMNS} FROM tasks WHERE ?1 IS NULL OR status = ?1 ORDER BY id");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map([status.map(TaskStatus::as_str)], from_row)?;
    rows.map(|row| row?).collect()
}

pub(crate) fn insert(conn: &Connection, task: NewTask) -> Result<Task, SqliteError> {
    let now = Timestamp::now().to_string();
    conn.prepare_cached(
        "INSERT INTO tasks (title, description, status, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![
        task.title,
        task.description,
        task.status.as_str(),
        now
    ])?;
    Ok(Task {
        id: TaskId::new(conn.last_insert_rowid()),
        title: task.title,
        description: task.description,
        status: task.status,
        created_at: now.clone(),
        updated_at: now,
    })
}

pub(crate) fn update(
    conn: &Connection,
    id: TaskId,
    patch: TaskPatch,
) -> Result<Option<Task>, SqliteError> {
    let Some(mut task) = get(conn, id)? else {
        return Ok(None);
    };
    patch.apply(&mut task, Timestamp::now());
    conn.prepare_cached(
        "UPDATE tasks SET title = ?2, description = ?3, status = ?4, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![
        id.get(),
        task.title,
        task.description,
        task.status.as_str(),
        task.updated_at
    ])?;
    Ok(Some(task))
}

pub(crate) fn delete(conn: &Connection, id: TaskId) -> Result<Option<Task>, SqliteError> {
    let Some(task) = get(conn, id)? else {
        return Ok(None);
    };
    conn.prepare_cached("DELETE FROM tasks WHERE id = ?1")?
        .execute([id.get()])?;
    Ok(Some(task))
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<Task, SqliteError>> {
    let status: String = row.get(3)?;
    let status = match TaskStatus::parse(&status) {
        Ok(status) => status,
        Err(e) => {
            let corrupt = format!("corrupt task status {status:?}: {e}");
            return Ok(Err(SqliteError::Corrupt(corrupt)));
        }
    };
    Ok(Ok(Task {
        id: TaskId::new(row.get(0)?),
        title: row.get(1)?,
        description: row.get(2)?,
        status,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    }))
}
