//! The webhook ledger in Redis: per target (its URL) a hash with the cursor, generation
//! and last attempt, a sorted set of parked event ids with a hash per parked event, and
//! a lease key naming the one node that delivers to it.
//!
//! The lease is `SET NX PX`, renewed by its holder (one script: take it if free, extend
//! it if ours). Every progress record is written by a script that first checks the lease
//! and the generation, so a node that lost the lease (paused, cut off) can no longer move
//! the cursor: it sees [`Advanced::Stale`] and stops.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;
use taskhub_core::{EventId, Timestamp};
use taskhub_engine::{
    Advanced, EngineError, ParkedEvent, Redelivery, WebhookLedger, WebhookProgress, WebhookState,
};

use crate::RedisLog;
use crate::error::ClusterError;

/// Most parked events one state lists (the oldest ones); the rest stay parked.
const PARKED_LISTED: isize = 100;

fn state_key(target: &str) -> String {
    format!("taskhub:webhook:{target}")
}
fn lease_key(target: &str) -> String {
    format!("taskhub:webhook:{target}:lease")
}
fn parked_key(target: &str) -> String {
    format!("taskhub:webhook:{target}:parked")
}
fn parked_event_key(target: &str, id: EventId) -> String {
    format!("taskhub:webhook:{target}:parked:{id}")
}

/// `KEYS[1]` the lease; `ARGV` holder, lease in ms. 1 when the holder has it now.
const CLAIM: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

/// `KEYS[1]` the lease; `ARGV` holder.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

/// `KEYS` lease, state, parked set, the parked event's hash, the unparked event's hash;
/// `ARGV` holder, generation, cursor, attempt at, status, error, has attempt, parked id,
/// envelope, parked at, parked status, parked error, unparked id (`''` for none).
const ADVANCE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[2], 'generation') ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], 'cursor', ARGV[3]) end
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[2], 'last_attempt_at', ARGV[4], 'last_status', ARGV[5], 'last_error', ARGV[6])
end
if ARGV[8] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[8])
  redis.call('HSET', KEYS[4], 'envelope', ARGV[9], 'parked_at', ARGV[10], 'last_status', ARGV[11], 'last_error', ARGV[12])
  redis.call('HDEL', KEYS[4], 'requeued_at')
end
if ARGV[13] ~= '' then
  redis.call('ZREM', KEYS[3], ARGV[13])
  redis.call('DEL', KEYS[5])
end
return 1
";

/// `KEYS` state; `ARGV` cursor, at. Rewinds (or forwards) the cursor.
const REDELIVER_AFTER: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'cursor', ARGV[1], 'replayed_at', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'generation', 1)
return 1
";

/// `KEYS` state, parked set, the parked event's hash; `ARGV` id, at.
const REDELIVER_PARKED: &str = r"
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[3], 'requeued_at', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'generation', 1)
return 1
";

/// The scripts, hashed once (`EVALSHA`, loaded again after a Redis restart).
static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    claim: Script::new(CLAIM),
    release: Script::new(RELEASE),
    advance: Script::new(ADVANCE),
    redeliver_after: Script::new(REDELIVER_AFTER),
    redeliver_parked: Script::new(REDELIVER_PARKED),
});

struct Scripts {
    claim: Script,
    release: Script,
    advance: Script,
    redeliver_after: Script,
    redeliver_parked: Script,
}

fn optional<T: std::str::FromStr>(fields: &HashMap<String, String>, name: &str) -> Option<T> {
    fields
        .get(name)
        .filter(|v| !v.is_empty())
        .and_then(|v| v.parse().ok())
}

fn text(fields: &HashMap<String, String>, name: &str) -> Option<String> {
    fields.get(name).filter(|v| !v.is_empty()).cloned()
}

fn corrupt(detail: &str) -> ClusterError {
    ClusterError::corrupt("webhook ledger", detail)
}

impl RedisLog {
    async fn read_webhook(&self, target: &str) -> Result<Option<WebhookState>, ClusterError> {
        let mut commands = self.commands();
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(state_key(target))
            .query_async(&mut commands)
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let ids: Vec<u64> = redis::cmd("ZRANGE")
            .arg(parked_key(target))
            .arg(0)
            .arg(PARKED_LISTED - 1)
            .query_async(&mut commands)
            .await?;
        let mut parked = Vec::with_capacity(ids.len());
        for id in ids {
            let id = EventId::new(id);
            let event: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(parked_event_key(target, id))
                .query_async(&mut commands)
                .await?;
            parked.push(ParkedEvent {
                id,
                envelope: text(&event, "envelope").ok_or_else(|| corrupt("a parked event"))?,
                parked_at: Timestamp::from_unix_millis(
                    optional(&event, "parked_at").unwrap_or_default(),
                ),
                last_status: optional(&event, "last_status"),
                last_error: text(&event, "last_error").unwrap_or_default(),
                requeued_at: optional(&event, "requeued_at").map(Timestamp::from_unix_millis),
            });
        }
        Ok(Some(WebhookState {
            cursor: EventId::new(optional(&fields, "cursor").ok_or_else(|| corrupt("a cursor"))?),
            generation: optional(&fields, "generation").unwrap_or_default(),
            replayed_at: optional(&fields, "replayed_at").map(Timestamp::from_unix_millis),
            last_attempt_at: optional(&fields, "last_attempt_at").map(Timestamp::from_unix_millis),
            last_status: optional(&fields, "last_status"),
            last_error: text(&fields, "last_error"),
            parked,
        }))
    }
}

impl WebhookLedger for RedisLog {
    async fn claim(
        &self,
        target: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<bool, EngineError> {
        let held: u8 = SCRIPTS
            .claim
            .key(lease_key(target))
            .arg(holder)
            .arg(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut self.commands())
            .await
            .map_err(ClusterError::from)?;
        Ok(held == 1)
    }

    async fn release(&self, target: &str, holder: &str) -> Result<(), EngineError> {
        let _: u8 = SCRIPTS
            .release
            .key(lease_key(target))
            .arg(holder)
            .invoke_async(&mut self.commands())
            .await
            .map_err(ClusterError::from)?;
        Ok(())
    }

    async fn webhook_state(
        &self,
        target: &str,
        start: EventId,
    ) -> Result<WebhookState, EngineError> {
        let () = redis::pipe()
            .atomic()
            .hset_nx(state_key(target), "cursor", start.get())
            .ignore()
            .hset_nx(state_key(target), "generation", 0)
            .ignore()
            .query_async(&mut self.commands())
            .await
            .map_err(ClusterError::from)?;
        Ok(self
            .read_webhook(target)
            .await?
            .ok_or_else(|| corrupt("a webhook state vanished"))?)
    }

    async fn inspect_webhook(&self, target: &str) -> Result<Option<WebhookState>, EngineError> {
        Ok(self.read_webhook(target).await?)
    }

    async fn advance(
        &self,
        target: &str,
        holder: &str,
        progress: WebhookProgress,
    ) -> Result<Advanced, EngineError> {
        let some = |v: Option<String>| v.unwrap_or_default();
        let park_id = progress.park.as_ref().map_or(EventId::ZERO, |p| p.id);
        let unpark_id = progress.unpark.unwrap_or(EventId::ZERO);
        let mut call = SCRIPTS.advance.prepare_invoke();
        call.key(lease_key(target))
            .key(state_key(target))
            .key(parked_key(target))
            .key(parked_event_key(target, park_id))
            .key(parked_event_key(target, unpark_id))
            .arg(holder)
            .arg(progress.generation)
            .arg(some(progress.cursor.map(|c| c.get().to_string())));
        match &progress.attempt {
            Some(attempt) => call
                .arg(attempt.at.unix_millis())
                .arg(some(attempt.status.map(|s| s.to_string())))
                .arg(some(attempt.error.clone()))
                .arg("1"),
            None => call.arg("").arg("").arg("").arg("0"),
        };
        match &progress.park {
            Some(parked) => call
                .arg(parked.id.get())
                .arg(&parked.envelope)
                .arg(parked.parked_at.unix_millis())
                .arg(some(parked.last_status.map(|s| s.to_string())))
                .arg(&parked.last_error),
            None => call.arg("").arg("").arg("").arg("").arg(""),
        };
        call.arg(some(progress.unpark.map(|id| id.get().to_string())));
        let written: u8 = call
            .invoke_async(&mut self.commands())
            .await
            .map_err(ClusterError::from)?;
        Ok(if written == 1 {
            Advanced::Written
        } else {
            Advanced::Stale
        })
    }

    async fn redeliver(
        &self,
        target: &str,
        request: Redelivery,
        at: Timestamp,
    ) -> Result<bool, EngineError> {
        let found: u8 = match request {
            Redelivery::After(id) => {
                SCRIPTS
                    .redeliver_after
                    .key(state_key(target))
                    .arg(id.get())
                    .arg(at.unix_millis())
                    .invoke_async(&mut self.commands())
                    .await
            }
            Redelivery::Parked(id) => {
                SCRIPTS
                    .redeliver_parked
                    .key(state_key(target))
                    .key(parked_key(target))
                    .key(parked_event_key(target, id))
                    .arg(id.get())
                    .arg(at.unix_millis())
                    .invoke_async(&mut self.commands())
                    .await
            }
        }
        .map_err(ClusterError::from)?;
        Ok(found == 1)
    }
}
