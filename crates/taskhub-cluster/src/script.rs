//! The Redis-side half of the event log: the keys, and the Lua scripts that run atomically
//! inside Redis (`EVALSHA`, loaded again by the client after a Redis restart).

use redis::Script;

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

/// Appends a batch: `KEYS` = stream, counter, and optionally the outbox row's marker;
/// `ARGV` = max length, marker TTL, then four values per event: type, topic (`""` for
/// none), private (`"1"`/`"0"`), envelope tail. Returns the first id of the batch.
///
/// The next id is one past the larger of the counter and the stream's last entry, so a
/// lost counter cannot make an append fail halfway. With a marker that already exists the
/// script appends nothing and returns the id recorded: relaying a row twice is harmless.
/// `MAXLEN` is exact, so the stream keeps exactly the newest `history_size` events, as the
/// single-node log does.
const PUBLISH: &str = r"
local marker = KEYS[3]
if marker then
  local done = redis.call('GET', marker)
  if done then return tonumber(done) end
end
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if top then
  local top_id = tonumber(string.match(top[1], '^(%d+)'))
  if top_id > last then last = top_id end
end
local n = (#ARGV - 2) / 4
for i = 0, n - 1 do
  local a = 3 + i * 4
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], string.format('%d-0', last + 1 + i),
    't', ARGV[a], 'p', ARGV[a + 1], 'v', ARGV[a + 2], 'e', ARGV[a + 3])
end
redis.call('SET', KEYS[2], string.format('%d', last + n))
if marker then redis.call('SET', marker, string.format('%d', last + 1), 'EX', ARGV[2]) end
return last + 1
";

/// The last id issued: the larger of the counter and the stream's last entry
/// (`KEYS` = stream, counter). Optionally raises the counter to `ARGV[1]` first, which a
/// reader does after a reconnect: if Redis lost data, ids still never go backwards.
const LAST_ID: &str = r"
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if top then
  local top_id = tonumber(string.match(top[1], '^(%d+)'))
  if top_id > last then last = top_id end
end
local floor = tonumber(ARGV[1] or '0')
if floor > last then
  redis.call('SET', KEYS[2], string.format('%d', floor))
  return {last, 1}
end
return {last, 0}
";

/// The scripts, hashed once.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) publish: Script,
    pub(crate) last_id: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            publish: Script::new(PUBLISH),
            last_id: Script::new(LAST_ID),
        }
    }
}
