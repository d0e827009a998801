//! The outbox relay: moves task events from PostgreSQL's outbox to the stream.
//!
//! A task change commits its row and an outbox row together. The handler then relays the
//! task's pending rows at once, and every node sweeps rows older than a second, so a
//! change whose node crashed still gets its event. Relaying is idempotent: the append is
//! keyed by the outbox row (`RedisLog::relay`), so a row appended but not yet deleted when
//! a node died is appended again as a no-op. Rows of one task are relayed under their row
//! locks, oldest first, so one task's events are in the stream in the order its changes
//! committed (a change waits for the previous one's row lock before it takes its outbox id).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::entry::EntryFields;
use crate::error::ClusterError;
use crate::failpoint::{self, RELAY_AFTER_XADD};
use crate::log::RedisLog;
use crate::postgres::idempotency;
use crate::postgres::pool::Pool;

/// How often each node sweeps the outbox.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Most tasks one sweep relays.
const SWEEP_TASKS: i64 = 100;

#[derive(Clone, Debug)]
pub(crate) struct Relay {
    pub(crate) pool: Arc<Pool>,
    pub(crate) log: RedisLog,
    /// This database's id, part of every relay marker.
    pub(crate) database: Arc<str>,
}

impl Relay {
    /// Appends every pending outbox row of `task`, oldest first, then deletes them.
    /// Returns how many rows it relayed.
    pub(crate) async fn task(&self, task: i64) -> Result<usize, ClusterError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "SELECT id, event, topic, private, tail FROM taskhub_outbox \
                 WHERE task_id = $1 ORDER BY id FOR UPDATE",
                &[&task],
            )
            .await?;
        let mut relayed = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get(0)?;
            let fields = EntryFields {
                event_type: row.try_get(1)?,
                topic: row.try_get(2)?,
                private: row.try_get(3)?,
                tail: row.try_get(4)?,
                mercure: None,
            };
            self.log.relay(&self.database, id, &fields).await?;
            failpoint::hit(RELAY_AFTER_XADD);
            relayed.push(id);
        }
        if !relayed.is_empty() {
            tx.execute("DELETE FROM taskhub_outbox WHERE id = ANY($1)", &[&relayed])
                .await?;
        }
        tx.commit().await?;
        Ok(relayed.len())
    }

    /// Relays the rows of every task with a row older than the sweep period, and deletes
    /// the idempotency records that expired.
    async fn sweep(&self) -> Result<usize, ClusterError> {
        let tasks: Vec<i64> = {
            let client = self.pool.get().await?;
            idempotency::purge(&*client).await?;
            client
                .query(
                    "SELECT DISTINCT task_id FROM taskhub_outbox \
                     WHERE enqueued_at < now() - interval '1 second' LIMIT $1",
                    &[&SWEEP_TASKS],
                )
                .await?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?
        };
        let mut relayed = 0;
        for task in tasks {
            relayed += self.task(task).await?;
        }
        Ok(relayed)
    }

    /// Sweeps every [`SWEEP_EVERY`] until `stop` is cancelled.
    pub(crate) async fn sweep_forever(self, stop: CancellationToken) {
        let mut failing = false;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(SWEEP_EVERY) => {}
            }
            match self.sweep().await {
                Ok(relayed) => {
                    if relayed > 0 {
                        info!(
                            relayed,
                            "relayed task events left behind by an interrupted change"
                        );
                    }
                    failing = false;
                }
                Err(e) => {
                    if !failing {
                        warn!(error = %e, "cannot sweep the outbox; retrying every second");
                    }
                    failing = true;
                }
            }
        }
    }
}
