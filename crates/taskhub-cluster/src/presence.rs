//! [`RedisPresence`]: presence shared by every node of a cluster, in Redis.
//!
//! The rule is `taskhub_engine::presence`'s (members per selector and identity, a grace
//! period after the last stream), kept in Redis so every node sees one membership; each
//! step is one Lua script, so two nodes never both announce one change:
//!
//! - `APPLY` takes a batch of opens and closes from one node and refreshes that node's
//!   heartbeat; it answers the joins (a member's first stream cluster-wide, not back from
//!   its grace period).
//! - `SWEEP`, run by every node about once a second, retires nodes whose heartbeat ran
//!   out (a SIGKILLed node: its streams go at once, the TTL was their grace) and answers
//!   the leaves whose grace ended. The script that removes a leave's entry answers it, so
//!   exactly one node announces it.
//!
//! Keys (one Redis, like the log; the per-node and per-selector keys are named inside the
//! scripts): `taskhub:presence:nodes` (node → heartbeat deadline, ms), `…:grace`
//! (`selector\nidentity` → leave deadline), `…:last` (the same → the last stream's client
//! id), `…:node:<node>` (`client\nselector` → identity: what to undo if the node dies),
//! `…:members:<selector>` (identity → open streams), `…:clients:<selector>`
//! (`node\nclient` → `since\nidentity`). Selectors, client ids and node names hold no
//! control character, so `\n` separates fields unambiguously (an identity, last, may).
//! Times are Redis's own clock (`TIME`), so nodes' clocks need not agree.

use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use taskhub_core::Timestamp;
use taskhub_engine::EngineError;
use taskhub_engine::presence::{Announcement, Change, ListedClient, Listing, Op, subject_of};

use crate::error::ClusterError;

const NODES: &str = "taskhub:presence:nodes";
const GRACE: &str = "taskhub:presence:grace";
const LAST: &str = "taskhub:presence:last";

/// Shared by both scripts: the time, and the key prefix.
const PRELUDE: &str = r"
local P = 'taskhub:presence:'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function split(s)
  local nl = string.find(s, '\n', 1, true)
  return string.sub(s, 1, nl - 1), string.sub(s, nl + 1)
end
";

/// `KEYS` = nodes, grace, last; `ARGV` = node, heartbeat TTL (ms), grace (ms), then five
/// values per operation: `o`/`c`, selector, identity, client id, since. Returns `{fresh,
/// then four values per join: selector, identity, client id, count}`; `fresh` is 1 when
/// the node was not registered (first call, or declared dead while alive: its caller then
/// opens its streams again, which is idempotent).
const APPLY: &str = r"
local node, ttl, grace = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {tostring(redis.call('ZADD', KEYS[1], now + ttl, node))}
local mine = P .. 'node:' .. node
for i = 4, #ARGV, 5 do
  local op, sel, ident, cid, since = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local members = P .. 'members:' .. sel
  local gkey = sel .. '\n' .. ident
  local field = cid .. '\n' .. sel
  if op == 'o' then
    if redis.call('HSET', mine, field, ident) == 1 then
      redis.call('HSET', P .. 'clients:' .. sel, node .. '\n' .. cid, since .. '\n' .. ident)
      local n = redis.call('HINCRBY', members, ident, 1)
      local graced = redis.call('ZREM', KEYS[2], gkey)
      redis.call('HDEL', KEYS[3], gkey)
      if n == 1 and graced == 0 then
        table.insert(out, sel)
        table.insert(out, ident)
        table.insert(out, cid)
        table.insert(out, tostring(redis.call('HLEN', members)))
      end
    end
  elseif redis.call('HDEL', mine, field) == 1 then
    redis.call('HDEL', P .. 'clients:' .. sel, node .. '\n' .. cid)
    if redis.call('HINCRBY', members, ident, -1) <= 0 then
      redis.call('ZADD', KEYS[2], now + grace, gkey)
      redis.call('HSET', KEYS[3], gkey, cid)
    end
  end
end
return out
";

/// `KEYS` = nodes, grace, last. Retires up to 16 dead nodes (their streams' members leave
/// now), then answers up to 500 due leaves: four values each, selector, identity, client
/// id, count.
const SWEEP: &str = r"
for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 16)) do
  local key = P .. 'node:' .. node
  local entries = redis.call('HGETALL', key)
  for j = 1, #entries, 2 do
    local cid, sel = split(entries[j])
    local ident = entries[j + 1]
    redis.call('HDEL', P .. 'clients:' .. sel, node .. '\n' .. cid)
    if redis.call('HINCRBY', P .. 'members:' .. sel, ident, -1) <= 0 then
      local gkey = sel .. '\n' .. ident
      redis.call('ZADD', KEYS[2], now, gkey)
      redis.call('HSET', KEYS[3], gkey, cid)
    end
  end
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], node)
end
local out = {}
for _, gkey in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 500)) do
  redis.call('ZREM', KEYS[2], gkey)
  local cid = redis.call('HGET', KEYS[3], gkey) or ''
  redis.call('HDEL', KEYS[3], gkey)
  local sel, ident = split(gkey)
  local members = P .. 'members:' .. sel
  if tonumber(redis.call('HGET', members, ident) or '0') <= 0 then
    redis.call('HDEL', members, ident)
    table.insert(out, sel)
    table.insert(out, ident)
    table.insert(out, cid)
    table.insert(out, tostring(redis.call('HLEN', members)))
  end
end
return out
";

/// One node's handle on the cluster's presence. Cheap to clone.
#[derive(Clone, Debug)]
pub struct RedisPresence {
    /// The log's multiplexed command connection, shared.
    commands: ConnectionManager,
    apply: Script,
    sweep: Script,
    node: String,
    heartbeat_ttl_ms: u64,
    grace_ms: u64,
}

impl RedisPresence {
    pub(crate) fn new(
        commands: ConnectionManager,
        node: String,
        heartbeat_ttl: Duration,
        grace: Duration,
    ) -> Self {
        Self {
            commands,
            apply: Script::new(&[PRELUDE, APPLY].concat()),
            sweep: Script::new(&[PRELUDE, SWEEP].concat()),
            node,
            heartbeat_ttl_ms: millis(heartbeat_ttl),
            grace_ms: millis(grace),
        }
    }

    /// Applies a batch of this node's opens and closes (an empty one is a heartbeat).
    /// Answers whether the node was unknown to Redis (see `APPLY`), and the joins.
    pub async fn apply(&self, ops: &[Op]) -> Result<(bool, Vec<Announcement>), EngineError> {
        let mut invocation = self.apply.key(NODES);
        invocation
            .key(GRACE)
            .key(LAST)
            .arg(&self.node)
            .arg(self.heartbeat_ttl_ms)
            .arg(self.grace_ms);
        for op in ops {
            let (code, presence) = match op {
                Op::Open(presence) => ("o", presence),
                Op::Close(presence) => ("c", presence),
            };
            invocation
                .arg(code)
                .arg(&presence.selector)
                .arg(presence.identity())
                .arg(&presence.client_id)
                .arg(presence.since.to_string());
        }
        let reply: Vec<String> = invocation
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(ClusterError::from)?;
        let fresh = reply.first().is_some_and(|flag| flag == "1");
        let joins = announcements(Change::Join, reply.get(1..).unwrap_or_default())?;
        Ok((fresh, joins))
    }

    /// Retires dead nodes and answers the leaves now due, each to exactly one caller in
    /// the cluster.
    pub async fn sweep(&self) -> Result<Vec<Announcement>, EngineError> {
        let reply: Vec<String> = self
            .sweep
            .key(NODES)
            .key(GRACE)
            .key(LAST)
            .invoke_async(&mut self.commands.clone())
            .await
            .map_err(ClusterError::from)?;
        Ok(announcements(Change::Leave, &reply)?)
    }

    /// Each selector's members and open streams, cluster-wide.
    pub async fn list(&self, selectors: &[String]) -> Result<Vec<Listing>, EngineError> {
        let mut pipe = redis::pipe();
        for selector in selectors {
            pipe.hlen(format!("taskhub:presence:members:{selector}"))
                .hgetall(format!("taskhub:presence:clients:{selector}"));
        }
        let replies: Vec<(u64, Vec<(String, String)>)> = {
            let flat: Vec<redis::Value> = pipe
                .query_async(&mut self.commands.clone())
                .await
                .map_err(ClusterError::from)?;
            flat.chunks(2)
                .map(|pair| redis::from_redis_value(redis::Value::Array(pair.to_vec())))
                .collect::<Result<_, _>>()
                .map_err(|e| ClusterError::corrupt("presence listing", e))?
        };
        selectors
            .iter()
            .zip(replies)
            .map(|(selector, (count, clients))| {
                let clients = clients
                    .into_iter()
                    .map(|(field, value)| listed(&field, &value))
                    .collect::<Result<_, _>>()?;
                Ok(Listing {
                    selector: selector.clone(),
                    count,
                    clients,
                })
            })
            .collect()
    }

    /// Leaves the cluster at shutdown: this node's heartbeat is made due, so the next
    /// sweep (any node's) retires whatever of it is left; its closed streams are in their
    /// grace period already.
    pub async fn retire(&self) -> Result<(), EngineError> {
        let _: () = redis::cmd("ZADD")
            .arg(NODES)
            .arg(0)
            .arg(&self.node)
            .query_async(&mut self.commands.clone())
            .await
            .map_err(ClusterError::from)?;
        Ok(())
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Four values per announcement: selector, identity, client id, count.
fn announcements(change: Change, flat: &[String]) -> Result<Vec<Announcement>, ClusterError> {
    if !flat.len().is_multiple_of(4) {
        return Err(ClusterError::corrupt(
            "presence reply",
            "not groups of four",
        ));
    }
    flat.chunks(4)
        .map(|item| {
            Ok(Announcement {
                change,
                selector: item[0].clone(),
                subject: subject_of(&item[1]).map(str::to_owned),
                client_id: item[2].clone(),
                count: item[3]
                    .parse()
                    .map_err(|e| ClusterError::corrupt("presence reply", e))?,
            })
        })
        .collect()
}

/// One `clients` entry: `node\nclient` → `since\nidentity`.
fn listed(field: &str, value: &str) -> Result<ListedClient, ClusterError> {
    let bad = || ClusterError::corrupt("presence client", field);
    let (node, client_id) = field.split_once('\n').ok_or_else(bad)?;
    let (since, identity) = value.split_once('\n').ok_or_else(bad)?;
    Ok(ListedClient {
        subject: subject_of(identity).map(str::to_owned),
        client_id: client_id.to_owned(),
        since: Timestamp::parse(since).map_err(|_| bad())?,
        node: node.to_owned(),
    })
}
