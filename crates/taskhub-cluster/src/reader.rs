//! This node's reader: one task that tails the stream with `XREAD BLOCK` and hands each
//! entry, encoded once, to the hub, in id order.
//!
//! Plain `XREAD`, not a consumer group: every node must see every entry. The reader keeps
//! the last id it saw; after any error it backs off, reconnects and reads on from that id,
//! so while the stream still holds what came next, this node's subscribers miss nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use taskhub_core::EventId;
use taskhub_engine::CommitSink;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::entry;
use crate::error::ClusterError;
use crate::script::{STREAM, Scripts};

/// How long one `XREAD` blocks waiting for new entries.
const BLOCK: Duration = Duration::from_secs(5);
/// Most entries taken per read, whatever the subscribers' buffer.
const MAX_COUNT: usize = 128;
/// Backoff between reconnection attempts, doubling up to the maximum.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Most entries taken per read: a quarter of a subscriber's buffer (`--client-buffer`) at
/// most, so a backlog in Redis reaches the hub in bites subscribers keep up with rather
/// than in one burst that fills every buffer at once.
pub(crate) fn read_count(client_buffer: usize) -> usize {
    (client_buffer / 4).clamp(1, MAX_COUNT)
}

/// What the reader tells the rest of the node.
#[derive(Debug)]
pub(crate) struct Progress {
    /// True while it follows the stream (`/readyz`).
    pub(crate) following: Arc<AtomicBool>,
    /// The last id it handed to the hub, sent once per batch (`RedisLog::settle` waits
    /// on it).
    pub(crate) delivered: watch::Sender<EventId>,
}

/// Follows the stream after `last` until `stop` is cancelled, starting on `connection`.
pub(crate) async fn run(
    client: redis::Client,
    connection: MultiplexedConnection,
    mut last: EventId,
    count: usize,
    sink: CommitSink,
    progress: Progress,
    stop: CancellationToken,
) {
    let Progress {
        following,
        delivered,
    } = progress;
    let scripts = Scripts::new();
    let mut backoff = BACKOFF_MIN;
    let mut connection = Some(connection);
    loop {
        let result = match connection.as_mut() {
            Some(conn) => tokio::select! {
                () = stop.cancelled() => return,
                read = read(conn, last, count) => read,
            },
            None => tokio::select! {
                () = stop.cancelled() => return,
                connected = reconnect(&client, &scripts, last) => connected.map(|conn| {
                    connection = Some(conn);
                    None
                }),
            },
        };
        match result {
            Ok(Some(reply)) => {
                let mut frames = Vec::new();
                for key in &reply.keys {
                    for item in &key.ids {
                        match entry::frame(item) {
                            Ok(frame) => {
                                last = frame.id();
                                frames.push(frame);
                            }
                            Err(e) => {
                                // Not ours to deliver, but never a reason to stop reading.
                                error!(error = %e, "skipping a stream entry TaskHub cannot read");
                                if let Ok(id) = entry::event_id(&item.id) {
                                    last = id;
                                }
                            }
                        }
                    }
                }
                if !frames.is_empty() {
                    sink(frames);
                }
                delivered.send_replace(last);
                backoff = BACKOFF_MIN;
                // Let this worker's subscribers drain what was just handed over before
                // the next batch: a reader that never pauses turns a backlog in Redis
                // into one burst that overflows every subscriber's buffer at once.
                tokio::task::yield_now().await;
            }
            Ok(None) => backoff = BACKOFF_MIN,
            Err(e) => {
                if following.swap(false, Ordering::Relaxed) {
                    warn!(error = %e, last_event_id = %last, "lost the event stream; reconnecting");
                }
                connection = None;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        }
        if connection.is_some() && !following.swap(true, Ordering::Relaxed) {
            info!(last_event_id = %last, "following the event stream");
        }
    }
}

/// A fresh connection for blocking reads: its response timeout outlasts `BLOCK`.
pub(crate) async fn reconnect(
    client: &redis::Client,
    scripts: &Scripts,
    last: EventId,
) -> Result<MultiplexedConnection, ClusterError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(BLOCK + Duration::from_secs(5)));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    // If Redis came back without the entries we saw (persistence off), ids must still
    // never go backwards: raise the counter to what we saw.
    let (_, raised) = scripts.last_id(&mut conn, last).await?;
    if raised {
        error!(
            last_event_id = %last,
            "Redis lost acknowledged events (is persistence off?); ids continue after the last one seen"
        );
    }
    Ok(conn)
}

/// One blocking read of up to `count` entries after `last`; `None` when `BLOCK` passed
/// with nothing new.
async fn read(
    conn: &mut MultiplexedConnection,
    last: EventId,
    count: usize,
) -> Result<Option<StreamReadReply>, ClusterError> {
    let reply = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(count)
        .arg("BLOCK")
        .arg(BLOCK.as_millis() as u64)
        .arg("STREAMS")
        .arg(STREAM)
        .arg(format!("{last}-0"))
        .query_async(conn)
        .await?;
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::read_count;

    #[test]
    fn a_read_never_takes_more_than_a_quarter_of_a_buffer() {
        assert_eq!(read_count(1000), 128);
        assert_eq!(read_count(256), 64);
        assert_eq!(read_count(4), 1);
        assert_eq!(read_count(1), 1);
    }
}
