//! [`PgTasks`]: the tasks of a cluster, in PostgreSQL.
//!
//! A change runs in one transaction that writes the task and an outbox row holding its
//! event (type, topic and envelope, timestamped at the change). After `COMMIT` the handler
//! relays the row at once (`relay`), so the event follows within milliseconds; if that
//! fails, or the node dies first, a sweep relays it. A change is refused (503) up front
//! while Redis is unreachable, so a change is only acknowledged when its event can follow.
//! A change with an idempotency key records it in the same transaction (`idempotency`).

pub(crate) mod idempotency;
pub(crate) mod pool;
mod schema;

use std::sync::Arc;

use taskhub_core::{EventType, Task, TaskId, TaskStatus, Timestamp};
use taskhub_engine::{
    Applied, EngineError, Idempotency, NewTask, TaskPatch, TaskStore, task_event,
};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_postgres::{GenericClient, Row};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::entry;
use crate::error::ClusterError;
use crate::failpoint::{self, RELAY_AFTER_COMMIT};
use crate::log::RedisLog;
use crate::relay::Relay;
use crate::url::PostgresUrl;
use pool::Pool;

/// Connections per node.
const POOL_SIZE: usize = 8;

const COLUMNS: &str = "id, title, description, status, created_at, updated_at";

/// Handle to the tasks in PostgreSQL. Clones share one pool and one sweeper.
#[derive(Clone, Debug)]
pub struct PgTasks {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: Arc<Pool>,
    relay: Relay,
    /// Stops the sweeper.
    stop: CancellationToken,
    /// The sweeper task, awaited on close.
    sweeper: Mutex<Option<JoinHandle<()>>>,
}

enum Change {
    Create(NewTask),
    Update(TaskId, TaskPatch),
    Delete(TaskId),
}

impl PgTasks {
    /// Connects, migrates the schema and starts this node's outbox sweeper.
    pub async fn connect(url: &PostgresUrl, log: RedisLog) -> Result<Self, EngineError> {
        Ok(Self::start(url, log).await?)
    }

    async fn start(url: &PostgresUrl, log: RedisLog) -> Result<Self, ClusterError> {
        let config: tokio_postgres::Config = url.as_str().parse()?;
        let pool = Arc::new(Pool::new(config, POOL_SIZE));
        let database = schema::migrate(&mut *pool.get().await?).await?;
        let relay = Relay {
            pool: Arc::clone(&pool),
            log,
            database: database.into(),
        };
        let stop = CancellationToken::new();
        let sweeper = tokio::spawn(relay.clone().sweep_forever(stop.clone()));
        info!(%url, "tasks in PostgreSQL; schema up to date");
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                relay,
                stop,
                sweeper: Mutex::new(Some(sweeper)),
            }),
        })
    }

    async fn change(
        &self,
        change: Change,
        key: Option<&Idempotency>,
    ) -> Result<Applied<Option<Task>>, ClusterError> {
        // Refuse while the event could not follow: nothing is written, nothing claimed.
        self.inner.relay.log.ready().await?;
        let mut client = self.inner.pool.get().await?;
        if let Some(key) = key
            && let Some(answered) = idempotency::recorded(&*client, key).await?
        {
            return Ok(answered);
        }
        let tx = client.transaction().await?;
        let (task, event_type) = match change {
            Change::Create(new) => (Some(insert(&tx, new).await?), EventType::task_created()),
            Change::Update(id, patch) => (update(&tx, id, patch).await?, EventType::task_updated()),
            Change::Delete(id) => (delete(&tx, id).await?, EventType::task_deleted()),
        };
        // No such task: the transaction rolls back when dropped.
        let Some(task) = task else {
            return Ok(Applied::fresh(None));
        };
        let fields = entry::fields(&task_event(event_type, &task), Timestamp::now());
        tx.execute(
            "INSERT INTO taskhub_outbox (task_id, event, topic, private, tail) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &task.id.get(),
                &fields.event_type,
                &fields.topic,
                &fields.private,
                &fields.tail,
            ],
        )
        .await?;
        if let Some(key) = key
            && !idempotency::record(&tx, key, &task).await?
        {
            // A concurrent attempt with the key committed first: this one rolls back and
            // answers as that one did.
            drop(tx);
            return idempotency::recorded(&*client, key).await?.ok_or_else(|| {
                ClusterError::corrupt("task database", "an idempotency record vanished")
            });
        }
        tx.commit().await.map_err(ClusterError::commit)?;
        drop(client);
        failpoint::hit(RELAY_AFTER_COMMIT);
        if let Err(e) = self.inner.relay.task(task.id.get()).await {
            // Committed: the change stands and the sweep relays its event later.
            warn!(task_id = %task.id, error = %e, "cannot relay a task event now; the outbox sweep will");
        }
        Ok(Applied::fresh(Some(task)))
    }

    async fn select(&self, id: TaskId) -> Result<Option<Task>, ClusterError> {
        let client = self.inner.pool.get().await?;
        let sql = format!("SELECT {COLUMNS} FROM taskhub_tasks WHERE id = $1");
        client
            .query_opt(&sql, &[&id.get()])
            .await?
            .map(|row| task(&row))
            .transpose()
    }

    async fn select_all(&self, status: Option<TaskStatus>) -> Result<Vec<Task>, ClusterError> {
        let client = self.inner.pool.get().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM taskhub_tasks WHERE $1::TEXT IS NULL OR status = $1 ORDER BY id"
        );
        let status = status.as_ref().map(TaskStatus::as_str);
        client
            .query(&sql, &[&status])
            .await?
            .iter()
            .map(task)
            .collect()
    }

    /// Whether a write transaction commits now: one that rewrites the heartbeat row. A
    /// `SELECT` would pass on a read-only database (`default_transaction_read_only`, a hot
    /// standby behind a failed-over address) that refuses every task change.
    async fn writable(&self) -> Result<(), ClusterError> {
        self.inner
            .pool
            .get()
            .await?
            .execute("UPDATE taskhub_heartbeat SET at = now()", &[])
            .await?;
        Ok(())
    }
}

/// A change commits with its outbox row; its event follows through the outbox.
impl TaskStore for PgTasks {
    async fn create_task(
        &self,
        task: NewTask,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Task>, EngineError> {
        let created = self
            .change(Change::Create(task), idempotency.as_ref())
            .await?
            .transpose()
            .ok_or_else(|| ClusterError::corrupt("task database", "the created task vanished"))?;
        Ok(created)
    }

    async fn update_task(
        &self,
        id: TaskId,
        patch: TaskPatch,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Option<Task>>, EngineError> {
        Ok(self
            .change(Change::Update(id, patch), idempotency.as_ref())
            .await?)
    }

    async fn delete_task(
        &self,
        id: TaskId,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Option<Task>>, EngineError> {
        Ok(self
            .change(Change::Delete(id), idempotency.as_ref())
            .await?)
    }

    async fn get_task(&self, id: TaskId) -> Result<Option<Task>, EngineError> {
        Ok(self.select(id).await?)
    }

    async fn list_tasks(&self, status: Option<TaskStatus>) -> Result<Vec<Task>, EngineError> {
        Ok(self.select_all(status).await?)
    }

    /// Whether PostgreSQL commits a write. (Redis, which a change also needs, is the
    /// event log's ping.)
    async fn ping(&self) -> Result<(), EngineError> {
        Ok(self.writable().await?)
    }

    /// Stops the sweeper and waits for it.
    async fn close(&self) {
        self.inner.stop.cancel();
        if let Some(sweeper) = self.inner.sweeper.lock().await.take() {
            let _ = sweeper.await;
        }
    }
}

async fn insert(tx: &impl GenericClient, new: NewTask) -> Result<Task, ClusterError> {
    let now = Timestamp::now().to_string();
    let row = tx
        .query_one(
            "INSERT INTO taskhub_tasks (title, description, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
            &[
                &new.title.as_bytes(),
                &new.description.as_deref().map(str::as_bytes),
                &new.status.as_str(),
                &now,
            ],
        )
        .await?;
    Ok(Task {
        id: TaskId::new(row.try_get(0)?),
        title: new.title,
        description: new.description,
        status: new.status,
        created_at: now.clone(),
        updated_at: now,
    })
}

async fn update(
    tx: &impl GenericClient,
    id: TaskId,
    patch: TaskPatch,
) -> Result<Option<Task>, ClusterError> {
    let sql = format!("SELECT {COLUMNS} FROM taskhub_tasks WHERE id = $1 FOR UPDATE");
    let Some(row) = tx.query_opt(&sql, &[&id.get()]).await? else {
        return Ok(None);
    };
    let mut task = task(&row)?;
    patch.apply(&mut task, Timestamp::now());
    tx.execute(
        "UPDATE taskhub_tasks SET title = $2, description = $3, status = $4, updated_at = $5 \
         WHERE id = $1",
        &[
            &id.get(),
            &task.title.as_bytes(),
            &task.description.as_deref().map(str::as_bytes),
            &task.status.as_str(),
            &task.updated_at,
        ],
    )
    .await?;
    Ok(Some(task))
}

async fn delete(tx: &impl GenericClient, id: TaskId) -> Result<Option<Task>, ClusterError> {
    let sql = format!("DELETE FROM taskhub_tasks WHERE id = $1 RETURNING {COLUMNS}");
    tx.query_opt(&sql, &[&id.get()])
        .await?
        .map(|row| task(&row))
        .transpose()
}

fn task(row: &Row) -> Result<Task, ClusterError> {
    let status: String = row.try_get(3)?;
    let text = |bytes: Vec<u8>| {
        String::from_utf8(bytes).map_err(|e| ClusterError::corrupt("task database", e))
    };
    Ok(Task {
        id: TaskId::new(row.try_get(0)?),
        title: text(row.try_get(1)?)?,
        description: row
            .try_get::<_, Option<Vec<u8>>>(2)?
            .map(text)
            .transpose()?,
        status: TaskStatus::parse(&status).map_err(|e| {
            ClusterError::corrupt("task database", format!("status {status:?}: {e}"))
        })?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}
