//! The Redis-side half of the event log: the keys, and the Lua scripts that run atomically
//! inside Redis (`EVALSHA`, loaded again by the client after a Redis restart).

use redis::Script;
use taskhub_core::EventId;

use crate::error::ClusterError;

/// The stream: one entry per event, entry id `N-0` for event id `N`.
pub(crate) const STREAM: &str = "taskhub:events";
/// The last event id ever issued: survives trimming every entry.
pub(crate) const COUNTER: &str = "taskhub:last_id";
/// How long a relayed outbox row's marker is kept (seven days). The marker is only needed
/// between the append and the row's delete, which is milliseconds unless a node crashes.
pub(crate) const MARKER_TTL_SECS: u64 = 7 * 24 * 3600;

/// The key recording which event an outbox row became.
pub(crate) fn marker_key(database: &str, row: i64) -> String {
    format!("taskhub:outbox:{database}:{row}")
}

/// Set by every readiness probe (`/readyz`): a write, so a Redis that answers `PING` but
/// refuses writes is noticed. It expires, so nothing stays behind once probes stop.
pub(crate) const HEARTBEAT: &str = "taskhub:heartbeat";
/// How long the heartbeat key lives.
pub(crate) const HEARTBEAT_TTL_SECS: u64 = 60;

/// Mercure update ids → the event id of their newest use, to resume from.
pub(crate) const UPDATE_IDS: &str = "taskhub:update_ids";
/// The same ids scored by that event id, so the script can drop those trimmed away.
pub(crate) const UPDATE_POSITIONS: &str = "taskhub:update_positions";

/// An idempotency key's record (`"<first id> <fingerprint>"`), kept for its TTL.
pub(crate) fn idempotency_key(key: &str) -> String {
    format!("taskhub:idempotency:{key}")
}

/// What the publish script answers: `{status, first id}`.
pub(crate) const APPENDED: u8 = 0;
/// The record's key existed for this request: nothing appended, the recorded first id.
pub(crate) const REPLAYED: u8 = 1;
/// The idempotency key's record names another request: nothing appended.
pub(crate) const KEY_REUSED: u8 = 2;

/// Appends a batch: `KEYS` = stream, counter, update ids, update positions, and optionally
/// a record key (an outbox row's marker or an idempotency key); `ARGV` = max length, the
/// record's TTL, the request's fingerprint (`""` for a marker), then six values per event:
/// type, topic (`""` for none), private (`"1"`/`"0"`), envelope tail, Mercure update id
/// and fields (`""` for a native event). Returns `{status, first id}` (`APPENDED`,
/// `REPLAYED` or `KEY_REUSED`).
///
/// The next id is one past the larger of the counter and the stream's last entry, so a
/// lost counter cannot make an append fail halfway. With a record that already exists the
/// script appends nothing and returns the first id recorded (relaying a row twice, or
/// retrying a publish with its idempotency key, is harmless), or refuses a fingerprint
/// other than the one recorded. An update id records its newest event (ids may be
/// reused, as Mercure allows). `MAXLEN` is exact, so the stream keeps exactly the newest
/// `history_size` events, as the single-node log does; the update ids whose newest event
/// is trimmed go with it.
const PUBLISH: &str = r"
local record = KEYS[5]
local fingerprint = ARGV[3]
if record then
  local done = redis.call('GET', record)
  if done then
    local first, recorded = string.match(done, '^(%d+) ?(%x*)$')
    if recorded ~= fingerprint then return {2, 0} end
    return {1, tonumber(first)}
  end
end
local n = (#ARGV - 3) / 6
local last = last_issued()
for i = 0, n - 1 do
  local a = 4 + i * 6
  local id = last + 1 + i
  local entry = {'t', ARGV[a], 'p', ARGV[a + 1], 'v', ARGV[a + 2], 'e', ARGV[a + 3]}
  if ARGV[a + 4] ~= '' then
    table.insert(entry, 'm')
    table.insert(entry, ARGV[a + 5])
    redis.call('HSET', KEYS[3], ARGV[a + 4], id)
    redis.call('ZADD', KEYS[4], id, ARGV[a + 4])
  end
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], string.format('%d-0', id), unpack(entry))
end
redis.call('SET', KEYS[2], string.format('%d', last + n))
local trimmed = last + n - tonumber(ARGV[1])
if trimmed > 0 then
  local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', trimmed)
  for _, update in ipairs(gone) do redis.call('HDEL', KEYS[3], update) end
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', trimmed)
end
if record then
  local value = string.format('%d', last + 1)
  if fingerprint ~= '' then value = value .. ' ' .. fingerprint end
  redis.call('SET', record, value, 'EX', ARGV[2])
end
return {0, last + 1}
";

/// The last id issued: the larger of the counter and the stream's last entry
/// (`KEYS` = stream, counter). Optionally raises the counter to `ARGV[1]` first, which a
/// reader does after a reconnect: if Redis lost data, ids still never go backwards.
const LAST_ID: &str = r"
local last = last_issued()
local floor = tonumber(ARGV[1] or '0')
if floor > last then
  redis.call('SET', KEYS[2], string.format('%d', floor))
  return {last, 1}
end
return {last, 0}
";

/// Both scripts start with this: the last id issued, the larger of the counter
/// (`KEYS[2]`) and the stream's (`KEYS[1]`) last entry.
const LAST_ISSUED: &str = r"
local function last_issued()
  local last = tonumber(redis.call('GET', KEYS[2]) or '0')
  local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
  if top then
    local top_id = tonumber(string.match(top[1], '^(%d+)'))
    if top_id > last then last = top_id end
  end
  return last
end
";

/// The scripts, hashed once.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) publish: Script,
    last_id: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            publish: Script::new(&[LAST_ISSUED, PUBLISH].concat()),
            last_id: Script::new(&[LAST_ISSUED, LAST_ID].concat()),
        }
    }

    /// The last id issued, after raising the counter to `floor` if it was below it. The
    /// flag says whether it was: Redis then lost events it had acknowledged.
    pub(crate) async fn last_id(
        &self,
        connection: &mut impl redis::aio::ConnectionLike,
        floor: EventId,
    ) -> Result<(EventId, bool), ClusterError> {
        let (last, raised): (u64, u8) = self
            .last_id
            .key(STREAM)
            .key(COUNTER)
            .arg(floor.get())
            .invoke_async(connection)
            .await?;
        Ok((EventId::new(last.max(floor.get())), raised == 1))
    }
}
