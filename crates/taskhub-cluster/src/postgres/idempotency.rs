//! The `taskhub_idempotency` table: the keys of retry-safe task changes, each recorded in
//! the transaction of the change it names, with the task as answered.

use taskhub_core::Task;
use taskhub_engine::{Answer, Applied, Idempotency};
use tokio_postgres::GenericClient;

use crate::error::ClusterError;

/// The answer recorded under `key` for this request, unless none is (or it expired);
/// [`ClusterError::KeyReused`] when it was recorded for another request.
pub(super) async fn recorded(
    client: &impl GenericClient,
    key: &Idempotency,
) -> Result<Option<Applied<Option<Task>>>, ClusterError> {
    let Some(row) = client
        .query_opt(
            "SELECT fingerprint, answer FROM taskhub_idempotency \
             WHERE key = $1 AND expires_at > now()",
            &[&key.key.as_str()],
        )
        .await?
    else {
        return Ok(None);
    };
    let fingerprint: String = row.try_get(0)?;
    key.check(&fingerprint)
        .map_err(|_| ClusterError::KeyReused)?;
    let stored: String = row.try_get(1)?;
    let task = Answer::from_stored(&stored)
        .and_then(Answer::into_task)
        .map_err(|e| ClusterError::corrupt("task database", e))?;
    Ok(Some(Applied::replayed(task)))
}

/// Records `key` with `task` in the change's transaction; false when a live record holds
/// the key already (a concurrent attempt that committed first: this insert waited for it).
pub(super) async fn record(
    tx: &impl GenericClient,
    key: &Idempotency,
    task: &Task,
) -> Result<bool, ClusterError> {
    #[allow(clippy::cast_precision_loss)] // a TTL in seconds is far below 2^52
    let ttl_secs = key.ttl_secs() as f64;
    let inserted = tx
        .execute(
            "INSERT INTO taskhub_idempotency (key, fingerprint, answer, expires_at) \
             VALUES ($1, $2, $3, now() + make_interval(secs => $4)) \
             ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, \
                 answer = EXCLUDED.answer, expires_at = EXCLUDED.expires_at \
             WHERE taskhub_idempotency.expires_at <= now()",
            &[
                &key.key.as_str(),
                &key.fingerprint.as_str(),
                &Answer::Task(Some(task.clone())).to_stored(),
                &ttl_secs,
            ],
        )
        .await?;
    Ok(inserted == 1)
}

/// Deletes the records that expired (each node's outbox sweep calls it).
pub(crate) async fn purge(client: &impl GenericClient) -> Result<u64, ClusterError> {
    Ok(client
        .execute(
            "DELETE FROM taskhub_idempotency WHERE expires_at <= now()",
            &[],
        )
        .await?)
}
