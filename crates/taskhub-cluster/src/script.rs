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

/// Topic → the id of the newest event on it, and the same for public events only, for
/// `latest`. Fields whose event was trimmed are removed by the maintenance script, a
/// bounded scan at a time; `LATEST` never answers with a trimmed event.
pub(crate) const LATEST: &str = "taskhub:latest";
pub(crate) const LATEST_PUBLIC: &str = "taskhub:latest_public";
/// Where the maintenance script's scans of the two hashes stand (`HSCAN` cursors).
pub(crate) const LATEST_CURSORS: &str = "taskhub:latest_cursors";

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

/// Appends a batch: `KEYS` = stream, counter, update ids, update positions, latest,
/// latest public, and optionally a record key (an outbox row's marker or an idempotency key); `ARGV` = max length, the
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
/// reused, as Mercure allows); an event with a topic becomes its topic's latest. `MAXLEN` is exact, so the stream keeps exactly the newest
/// `history_size` events, as the single-node log does; the update ids whose newest event
/// is trimmed go with it.
const PUBLISH: &str = r"
local record = KEYS[7]
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
  if ARGV[a + 1] ~= '' then
    redis.call('HSET', KEYS[5], ARGV[a + 1], id)
    if ARGV[a + 2] == '0' then redis.call('HSET', KEYS[6], ARGV[a + 1], id) end
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

/// The id to replay after for the events stamped at or after `ARGV[1]` (`KEYS` = stream,
/// counter): just before the first such entry, or the last id issued if none is.
const POSITION_AT: &str = r"
local first = first_stamped_from(KEYS[1], ARGV[1])
if first then return first - 1 end
return last_issued()
";

/// The newest entry on topic `ARGV[1]` (`KEYS` = a latest hash, stream): the entry, as
/// `XRANGE` answers it, or none when the topic has none or it was trimmed.
const LATEST_ENTRY: &str = r"
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return {} end
local at = string.format('%d-0', tonumber(id))
return redis.call('XRANGE', KEYS[2], at, at)
";

/// A step of the background maintenance (`KEYS` = stream, update ids, update positions,
/// latest, latest public, latest cursors; `ARGV` = cutoff stamp, most entries to trim):
/// trims up to `ARGV[2]` of the oldest entries stamped before `ARGV[1]` (`""` trims
/// none), drops the update ids of what it trimmed, and scans the next few hundred fields
/// of each latest hash for events no longer kept. Returns how many entries it trimmed.
const MAINTAIN: &str = r"
local trimmed = 0
local first, oldest = first_stamped_from(KEYS[1], ARGV[1])
if first then
  local keep = math.min(first, oldest + tonumber(ARGV[2]))
  if keep > oldest then
    trimmed = redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d-0', keep))
    local below = string.format('(%d', keep)
    local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', below)
    for _, update in ipairs(gone) do redis.call('HDEL', KEYS[2], update) end
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', below)
  end
end
local kept = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
local floor = math.huge
if kept then floor = tonumber(string.match(kept[1], '^(%d+)')) end
for _, hash in ipairs({KEYS[4], KEYS[5]}) do
  local cursor = redis.call('HGET', KEYS[6], hash) or '0'
  local scan = redis.call('HSCAN', hash, cursor, 'COUNT', 200)
  redis.call('HSET', KEYS[6], hash, scan[1])
  local fields = scan[2]
  for i = 1, #fields, 2 do
    if tonumber(fields[i + 1]) < floor then redis.call('HDEL', hash, fields[i]) end
  end
end
return trimmed
";

/// Finding entries by time. An entry's stamp is its envelope's `timestamp` (RFC 3339 in
/// one fixed format, so the strings order as the instants do); entries are stamped in id
/// order. `first_stamped_from` binary-searches the ids kept, one `XRANGE` a step, and
/// returns the first id stamped at or after `cutoff` (one past the newest if none is) and
/// the oldest id kept, or nothing for an empty stream.
const FIND_BY_TIME: &str = r#"
local function stamp(entry)
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'e' then
      return string.match(fields[i + 1], '"timestamp":"([^"]*)"}$') or ''
    end
  end
  return ''
end
local function entry_id(entry) return tonumber(string.match(entry[1], '^(%d+)')) end
local function first_stamped_from(stream, cutoff)
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  if not oldest then return nil end
  local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
  local low, high = entry_id(oldest), entry_id(newest) + 1
  local first_kept = low
  while low < high do
    local middle = math.floor((low + high) / 2)
    local entry = redis.call('XRANGE', stream, string.format('%d-0', middle), '+', 'COUNT', 1)[1]
    if entry == nil or stamp(entry) >= cutoff then high = middle else low = middle + 1 end
  end
  return low, first_kept
end
"#;

/// The publish, last-id and position scripts start with this: the last id issued, the larger of the counter
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
    pub(crate) position_at: Script,
    pub(crate) latest: Script,
    pub(crate) maintain: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            publish: Script::new(&[LAST_ISSUED, PUBLISH].concat()),
            last_id: Script::new(&[LAST_ISSUED, LAST_ID].concat()),
            position_at: Script::new(&[LAST_ISSUED, FIND_BY_TIME, POSITION_AT].concat()),
            latest: Script::new(LATEST_ENTRY),
            maintain: Script::new(&[FIND_BY_TIME, MAINTAIN].concat()),
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
