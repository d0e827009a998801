//! TaskHub's cluster mode: several `taskhub serve` nodes share one event log on a Redis
//! Stream and one tasks table in PostgreSQL, so any node can take any client.
//!
//! These are two engines of `taskhub-engine`'s contract: [`RedisLog`] implements
//! `EventLog` and [`PgTasks`] implements `TaskStore`. Their failures (`error`) become
//! `EngineError`s, an unconfirmed publish or `COMMIT` an outcome-unknown one.
//!
//! # Layout
//! - [`PostgresUrl`], [`RedisUrl`]: a `postgres://` `--database-url`, and `--redis-url`.
//! - [`RedisLog`]: the event log and bus. A publish is one script call that assigns the
//!   next ids and appends to the stream (`log`, `script`); each node runs one blocking
//!   reader that tails the stream and hands every entry, encoded once, to its hub
//!   (`reader`, `entry`); replay reads the stream (`log`).
//! - [`PgTasks`]: the tasks in PostgreSQL (`postgres`). Every change writes the task and
//!   an outbox row in one transaction; the outbox is relayed to the stream at once and
//!   swept every second (`relay`), idempotently, so each change yields exactly one event.
//! - [`RedisPresence`]: who has a stream open where, shared by the nodes (`presence`):
//!   one script per batch of opens and closes, one sweep that retires dead nodes and
//!   answers each due leave to exactly one node.
//! - `webhooks`: the webhook ledger (`WebhookLedger`) in Redis: each target's cursor,
//!   its parked events, and the lease naming the one node that delivers to it.
//! - `durability`: says at start-up what Redis's persistence makes an acknowledgement worth.
//! - `failpoint`: crash points for the relay's tests, inert unless `TASKHUB_FAILPOINT` names
//!   one.
//!
//! # Invariants
//! - Stream entry ids are `N-0` with `N` TaskHub's event id: one counter, incremented in
//!   the same script that appends, so ids are strictly increasing in stream order, which is
//!   the order every node delivers in.
//! - A publish is answered only after Redis replied to the script, so it is as durable as
//!   Redis's persistence setting makes it (docs/cluster.md). A publish whose reply was
//!   lost is answered as outcome-unknown: it may have been stored.
//! - A task change is acknowledged once PostgreSQL committed it with its outbox row; the
//!   row is deleted only after its event is in the stream, and the append is keyed by the
//!   row, so a crash anywhere yields the event exactly once.

mod durability;
mod entry;
mod error;
pub mod failpoint;
mod log;
mod postgres;
mod presence;
mod reader;
mod relay;
mod script;
mod url;
mod webhooks;

pub use log::RedisLog;
pub use postgres::PgTasks;
pub use presence::RedisPresence;
pub use url::{ParsePostgresUrlError, ParseRedisUrlError, PostgresUrl, RedisUrl};
