//! Where presence is kept: a [`Ledger`] in this process (single node, SQLite), or Redis
//! shared by every node (cluster mode).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use taskhub_cluster::RedisPresence;
use taskhub_engine::EngineError;
use taskhub_engine::presence::{Ledger, Listing};

use crate::backend::EventLog;

#[derive(Clone, Debug)]
pub(super) enum PresenceStore {
    /// Locked briefly by the bookkeeping task (a batch of ops, a sweep) and by listings.
    Local(Arc<Mutex<Ledger>>),
    Redis(RedisPresence),
}

impl PresenceStore {
    /// The store for the engine `events` is on.
    pub(super) fn new(events: &EventLog, node: String, grace: Duration, ttl: Duration) -> Self {
        match events {
            EventLog::Sqlite(_) => {
                let grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
                Self::Local(Arc::new(Mutex::new(Ledger::new(grace_ms, node))))
            }
            EventLog::Redis(log) => Self::Redis(log.presence(node, heartbeat_ttl(ttl), grace)),
        }
    }

    /// The ledger, locked.
    pub(super) fn ledger(ledger: &Mutex<Ledger>) -> std::sync::MutexGuard<'_, Ledger> {
        ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) async fn list(&self, selectors: &[String]) -> Result<Vec<Listing>, EngineError> {
        match self {
            Self::Local(ledger) => {
                let ledger = Self::ledger(ledger);
                Ok(selectors.iter().map(|s| ledger.list(s)).collect())
            }
            Self::Redis(redis) => redis.list(selectors).await,
        }
    }
}

/// How long a node's heartbeat lasts in Redis: two thirds of `--presence-ttl-secs`, so a
/// node whose heartbeats (every third) stopped is retired, and its members' leaves
/// announced, by a sweep within the TTL.
pub(super) fn heartbeat_ttl(ttl: Duration) -> Duration {
    ttl * 2 / 3
}
