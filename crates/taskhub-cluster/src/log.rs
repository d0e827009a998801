//! [`RedisLog`]: the event log of a cluster, on one Redis Stream.
//!
//! Publishing and replay go through one reconnecting, multiplexed command connection
//! (concurrent calls are pipelined on it, which is also what lets Redis fsync many
//! publishes at once under `appendfsync always`). The blocking reader has a connection of
//! its own (`reader`), since a `BLOCK`ed read would stall every command queued behind it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::StreamRangeReply;
use taskhub_core::mercure::ResumePoint;
use taskhub_core::{EventFrame, EventId, Timestamp, Topic};
use taskhub_engine::{
    Applied, CommitSink, EngineError, EventLog, IdRange, Idempotency, NewEvent, Order, Replay,
    Retention,
};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::entry::EntryFields;
use crate::error::ClusterError;
use crate::script::{
    self, COUNTER, HEARTBEAT, HEARTBEAT_TTL_SECS, LATEST, LATEST_CURSORS, LATEST_PUBLIC, STREAM,
    Scripts, UPDATE_IDS, UPDATE_POSITIONS,
};
use crate::url::RedisUrl;
use crate::{durability, entry, reader};

/// How long a command may wait for Redis's answer before the caller gets a 503.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long `settle` waits for this node's reader to catch up with the stream: with Redis
/// down it never would, and shutdown must not hang on it.
const SETTLE_WITHIN: Duration = Duration::from_secs(1);
/// How often the maintenance task runs when no maximum age asks for more: it then only
/// forgets the trimmed events' topics (`script::MAINTAIN`).
const MAINTAIN_EVERY: Duration = Duration::from_secs(10);

/// Handle to the cluster's event log. Clones share one command connection and one reader.
#[derive(Clone, Debug)]
pub struct RedisLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Publishes, replays and pings. Cheap to clone (a handle); it reconnects by itself
    /// after an error, failing calls fast while Redis is away.
    commands: ConnectionManager,
    scripts: Scripts,
    /// Newest events kept in the stream (exactly, by every append), and their age (by
    /// the maintenance task, on every node: a step that finds nothing expired is cheap).
    retention: Retention,
    /// Set by the reader while it follows the stream; `/readyz` fails while it is not.
    following: Arc<AtomicBool>,
    /// The last id the reader handed to the hub. A watch: the reader sends once per batch
    /// it reads, and `settle` (at shutdown) waits to be woken rather than polling.
    delivered: watch::Receiver<EventId>,
    /// Stops the reader and the maintenance task.
    stop: CancellationToken,
    /// The reader and maintenance tasks, awaited on close.
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl RedisLog {
    /// Connects, finds the stream's last id and starts this node's reader from there: the
    /// hub gets every event appended from now on, through `sink`, in id order, in bites
    /// that fit subscribers' buffers of `client_buffer` events.
    pub async fn connect(
        url: &RedisUrl,
        retention: Retention,
        client_buffer: usize,
        sink: CommitSink,
    ) -> Result<Self, EngineError> {
        Ok(Self::start(url, retention, client_buffer, sink).await?)
    }

    async fn start(
        url: &RedisUrl,
        retention: Retention,
        client_buffer: usize,
        sink: CommitSink,
    ) -> Result<Self, ClusterError> {
        let client = redis::Client::open(url.as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            // Fail a call fast while Redis is down; the next call tries again.
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let commands = ConnectionManager::new_with_config(client.clone(), config).await?;
        durability::report(&mut commands.clone()).await;
        let scripts = Scripts::new();
        let (last, _) = scripts
            .last_id(&mut commands.clone(), EventId::ZERO)
            .await?;
        let connection = reader::reconnect(&client, &scripts, last).await?;
        let following = Arc::new(AtomicBool::new(true));
        let (delivered_to_hub, delivered) = watch::channel(last);
        let stop = CancellationToken::new();
        let reader = tokio::spawn(reader::run(
            client,
            connection,
            last,
            reader::read_count(client_buffer),
            sink,
            reader::Progress {
                following: Arc::clone(&following),
                delivered: delivered_to_hub,
            },
            stop.clone(),
        ));
        info!(%url, last_event_id = %last, "following the event stream");
        let retention = Retention {
            max_events: retention.max_events.max(1),
            ..retention
        };
        let log = Self {
            inner: Arc::new(Inner {
                commands,
                scripts,
                retention,
                following,
                delivered,
                stop,
                tasks: Mutex::new(vec![reader]),
            }),
        };
        let maintenance = tokio::spawn(Self::maintain(Arc::downgrade(&log.inner)));
        log.inner.tasks.lock().await.push(maintenance);
        Ok(log)
    }

    /// Until stopped: every trim period (or [`MAINTAIN_EVERY`]), trims the entries past
    /// their age a bounded step at a time, and forgets topics whose newest event is gone.
    /// A failed step is retried at the next tick: Redis being away is reported elsewhere.
    /// It holds the log weakly, so a log dropped without `close` stops it too.
    async fn maintain(log: std::sync::Weak<Inner>) {
        let Some(inner) = log.upgrade() else {
            return;
        };
        let (retention, stop) = (inner.retention, inner.stop.clone());
        drop(inner);
        let period = retention.trim_period().unwrap_or(MAINTAIN_EVERY);
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let Some(inner) = log.upgrade() else {
                return;
            };
            let cutoff = retention
                .expired_before(Timestamp::now())
                .map_or_else(String::new, |before| before.to_string());
            loop {
                let started = tokio::time::Instant::now();
                let trimmed: Result<usize, _> = inner
                    .scripts
                    .maintain
                    .key(STREAM)
                    .key(UPDATE_IDS)
                    .key(UPDATE_POSITIONS)
                    .key(LATEST)
                    .key(LATEST_PUBLIC)
                    .key(LATEST_CURSORS)
                    .arg(&cutoff)
                    .arg(Retention::TRIM_STEP)
                    .invoke_async(&mut inner.commands.clone())
                    .await;
                match trimmed {
                    // More may be expired: leave Redis to publishes as long again.
                    Ok(n) if n == Retention::TRIM_STEP && !stop.is_cancelled() => {
                        tokio::time::sleep(started.elapsed()).await;
                    }
                    Ok(_) => break,
                    Err(e) => {
                        debug!(error = %e, "trimming the event stream failed; retrying later");
                        break;
                    }
                }
            }
        }
    }

    /// This node's handle on the cluster's presence (`node` names it; its heartbeat lasts
    /// `heartbeat_ttl`; members leave `grace` after their last stream), on the log's
    /// command connection.
    pub fn presence(
        &self,
        node: String,
        heartbeat_ttl: Duration,
        grace: Duration,
    ) -> crate::RedisPresence {
        crate::RedisPresence::new(self.inner.commands.clone(), node, heartbeat_ttl, grace)
    }

    /// A handle on the command connection (for the webhook ledger).
    pub(crate) fn commands(&self) -> ConnectionManager {
        self.inner.commands.clone()
    }

    /// Appends one outbox row's event (its [`entry::fields`]), once: a row already
    /// relayed returns the id it got and appends nothing.
    pub(crate) async fn relay(
        &self,
        database: &str,
        row: i64,
        fields: &EntryFields,
    ) -> Result<EventId, ClusterError> {
        let marker = Record {
            key: script::marker_key(database, row),
            ttl_secs: script::MARKER_TTL_SECS,
            fingerprint: "",
        };
        let (_, first) = self
            .append(std::slice::from_ref(fields), Some(marker))
            .await?;
        Ok(EventId::new(first))
    }

    /// Runs the publish script; returns whether it appended (or found `record` from an
    /// earlier run, or refused it), and the first id.
    async fn append(
        &self,
        entries: &[EntryFields],
        record: Option<Record<'_>>,
    ) -> Result<(u8, u64), ClusterError> {
        let mut call = self.inner.scripts.publish.prepare_invoke();
        call.key(STREAM)
            .key(COUNTER)
            .key(UPDATE_IDS)
            .key(UPDATE_POSITIONS)
            .key(LATEST)
            .key(LATEST_PUBLIC);
        let (ttl_secs, fingerprint) = match &record {
            Some(record) => {
                call.key(&record.key);
                (record.ttl_secs, record.fingerprint)
            }
            None => (0, ""),
        };
        call.arg(self.inner.retention.max_events)
            .arg(ttl_secs)
            .arg(fingerprint);
        for fields in entries {
            call.arg(&fields.args()[..]);
        }
        call.invoke_async(&mut self.inner.commands.clone())
            .await
            .map_err(ClusterError::script)
    }

    /// Whether Redis answers and this node's reader follows the stream (before a task
    /// change, so a change is refused while its event could not follow). A round trip, not
    /// a write: a change whose event Redis then refuses waits in the outbox, losing nothing.
    pub(crate) async fn ready(&self) -> Result<(), ClusterError> {
        let _pong: String = redis::cmd("PING")
            .query_async(&mut self.inner.commands.clone())
            .await?;
        if !self.inner.following.load(Ordering::Relaxed) {
            return Err(ClusterError::ReaderDown);
        }
        Ok(())
    }

    /// Whether a publish could be appended now (for `/readyz`): this node's reader
    /// follows the stream, and Redis takes a write. `PING` is not enough: Redis answers it
    /// while it refuses every write (`OOM` past `maxmemory` with `noeviction`, `MISCONF`
    /// after a failed save or AOF write, `READONLY` on a replica), and so every publish.
    /// Bounded by the connection's response timeout, as every command is.
    async fn writable(&self) -> Result<(), ClusterError> {
        if !self.inner.following.load(Ordering::Relaxed) {
            return Err(ClusterError::ReaderDown);
        }
        let () = redis::cmd("SET")
            .arg(HEARTBEAT)
            .arg(Timestamp::now().to_string())
            .arg("EX")
            .arg(HEARTBEAT_TTL_SECS)
            .query_async(&mut self.inner.commands.clone())
            .await?;
        Ok(())
    }

    async fn bounds(&self) -> Result<Bounds, ClusterError> {
        let (counter, newest, oldest): (Option<u64>, StreamRangeReply, StreamRangeReply) =
            redis::pipe()
                .atomic()
                .get(COUNTER)
                .xrevrange_count(STREAM, "+", "-", 1)
                .xrange_count(STREAM, "-", "+", 1)
                .query_async(&mut self.inner.commands.clone())
                .await?;
        Bounds::new(counter, &newest, &oldest)
    }
}

impl EventLog for RedisLog {
    /// One script call: answered once Redis replied, so as durable as its persistence
    /// setting makes it (docs/cluster.md).
    async fn publish(
        &self,
        events: Vec<NewEvent>,
        idempotency: Option<Idempotency>,
    ) -> Result<Applied<Vec<EventId>>, EngineError> {
        let timestamp = Timestamp::now();
        let entries: Vec<_> = events
            .iter()
            .map(|event| entry::fields(event, timestamp))
            .collect();
        let record = idempotency.as_ref().map(|idempotency| Record {
            key: script::idempotency_key(idempotency.key.as_str()),
            ttl_secs: idempotency.ttl_secs(),
            fingerprint: idempotency.fingerprint.as_str(),
        });
        let (status, first) = self.append(&entries, record).await?;
        let ids = (first..first + entries.len() as u64)
            .map(EventId::new)
            .collect();
        match status {
            script::APPENDED => Ok(Applied::fresh(ids)),
            script::REPLAYED => Ok(Applied::replayed(ids)),
            script::KEY_REUSED => Err(EngineError::KeyReused),
            other => Err(ClusterError::corrupt(
                "event log",
                format!("the publish script answered status {other}"),
            )
            .into()),
        }
    }

    /// One `MULTI`, so the bounds checked and the entries returned agree even while
    /// publishes trim the stream.
    async fn replay(&self, after: EventId, limit: usize) -> Result<Replay, EngineError> {
        let start = format!("{}-0", after.get().saturating_add(1));
        let (counter, newest, oldest, page): (
            Option<u64>,
            StreamRangeReply,
            StreamRangeReply,
            StreamRangeReply,
        ) = redis::pipe()
            .atomic()
            .get(COUNTER)
            .xrevrange_count(STREAM, "+", "-", 1)
            .xrange_count(STREAM, "-", "+", 1)
            .xrange_count(STREAM, start, "+", limit)
            .query_async(&mut self.inner.commands.clone())
            .await
            .map_err(ClusterError::Redis)?;
        if !Bounds::new(counter, &newest, &oldest)?.resumable(after) {
            return Ok(Replay::Unavailable);
        }
        let frames = page
            .ids
            .iter()
            .map(entry::frame)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Replay::Events(frames))
    }

    async fn read(
        &self,
        range: IdRange,
        order: Order,
        limit: usize,
    ) -> Result<Vec<Arc<EventFrame>>, EngineError> {
        let first = range.after.get().saturating_add(1);
        let last = match range.before {
            Some(before) if before.get() <= first => return Ok(Vec::new()),
            Some(before) => format!("{}-0", before.get() - 1),
            None => "+".to_owned(),
        };
        let first = format!("{first}-0");
        let mut commands = self.inner.commands.clone();
        let page: StreamRangeReply = match order {
            Order::Ascending => {
                redis::cmd("XRANGE")
                    .arg(STREAM)
                    .arg(first)
                    .arg(last)
                    .arg("COUNT")
                    .arg(limit)
                    .query_async(&mut commands)
                    .await
            }
            Order::Descending => {
                redis::cmd("XREVRANGE")
                    .arg(STREAM)
                    .arg(last)
                    .arg(first)
                    .arg("COUNT")
                    .arg(limit)
                    .query_async(&mut commands)
                    .await
            }
        }
        .map_err(ClusterError::Redis)?;
        Ok(page
            .ids
            .iter()
            .map(entry::frame)
            .collect::<Result<_, _>>()?)
    }

    async fn position_at(&self, at: Timestamp) -> Result<EventId, EngineError> {
        let position: u64 = self
            .inner
            .scripts
            .position_at
            .key(STREAM)
            .key(COUNTER)
            .arg(at.to_string())
            .invoke_async(&mut self.inner.commands.clone())
            .await
            .map_err(ClusterError::Redis)?;
        Ok(EventId::new(position))
    }

    async fn latest(
        &self,
        topic: &Topic,
        private: bool,
    ) -> Result<Option<Arc<EventFrame>>, EngineError> {
        let entries: StreamRangeReply = self
            .inner
            .scripts
            .latest
            .key(if private { LATEST } else { LATEST_PUBLIC })
            .key(STREAM)
            .arg(topic.as_str())
            .invoke_async(&mut self.inner.commands.clone())
            .await
            .map_err(ClusterError::Redis)?;
        Ok(entries.ids.first().map(entry::frame).transpose()?)
    }

    async fn locate(&self, point: ResumePoint) -> Result<Option<EventId>, EngineError> {
        match point {
            ResumePoint::Unknown => Ok(None),
            ResumePoint::Update(update) => {
                let id: Option<u64> = redis::cmd("HGET")
                    .arg(UPDATE_IDS)
                    .arg(update.as_str())
                    .query_async(&mut self.inner.commands.clone())
                    .await
                    .map_err(ClusterError::Redis)?;
                Ok(id.map(EventId::new))
            }
            ResumePoint::Earliest => Ok(Some(self.bounds().await?.oldest_resumable())),
            ResumePoint::Event(id) => Ok(self.bounds().await?.resumable(id).then_some(id)),
        }
    }

    async fn ping(&self) -> Result<(), EngineError> {
        Ok(self.writable().await?)
    }

    /// Waits, at most `SETTLE_WITHIN` (a second), until the reader has handed the hub
    /// every event issued so far.
    async fn settle(&self) {
        let mut commands = self.inner.commands.clone();
        let Ok((target, _)) = self
            .inner
            .scripts
            .last_id(&mut commands, EventId::ZERO)
            .await
        else {
            return;
        };
        let mut delivered = self.inner.delivered.clone();
        // Ends early if the reader stops (the watch closes): nothing more will come.
        let _ = tokio::time::timeout(SETTLE_WITHIN, delivered.wait_for(|id| *id >= target)).await;
    }

    /// Stops the reader and the maintenance task, and waits for them.
    async fn close(&self) {
        self.inner.stop.cancel();
        let tasks = std::mem::take(&mut *self.inner.tasks.lock().await);
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// The record a publish script keeps beside what it appends (`script::PUBLISH`).
struct Record<'a> {
    key: String,
    ttl_secs: u64,
    /// The request's fingerprint; empty for an outbox row's marker.
    fingerprint: &'a str,
}

/// The log's bounds, from the counter and the stream's newest and oldest entries.
struct Bounds {
    /// The last id issued.
    last: u64,
    /// The id whose successors are exactly what the stream still holds.
    oldest_resumable: u64,
}

impl Bounds {
    fn new(
        counter: Option<u64>,
        newest: &StreamRangeReply,
        oldest: &StreamRangeReply,
    ) -> Result<Self, ClusterError> {
        let first_id = |reply: &StreamRangeReply| {
            reply
                .ids
                .first()
                .map(|e| entry::event_id(&e.id).map(EventId::get))
                .transpose()
        };
        let last = counter.unwrap_or(0).max(first_id(newest)?.unwrap_or(0));
        let oldest_resumable = first_id(oldest)?.unwrap_or(last + 1) - 1;
        Ok(Self {
            last,
            oldest_resumable,
        })
    }

    fn oldest_resumable(&self) -> EventId {
        EventId::new(self.oldest_resumable)
    }

    /// Whether everything after `after` is still in the stream (and `after` was issued).
    fn resumable(&self, after: EventId) -> bool {
        after.get() <= self.last && after.get() >= self.oldest_resumable
    }
}
