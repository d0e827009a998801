//! The bookkeeping task: applies the streams' opens and closes in batches, sweeps for
//! due leaves (and, in cluster mode, dead nodes), keeps this node's heartbeat, and
//! publishes what changed through the log.

use std::collections::HashMap;
use std::time::Duration;

use taskhub_engine::NewEvent;
use taskhub_engine::presence::{Announcement, Change, Op, Presence};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::store::PresenceStore;
use crate::backend::EventLog;
use crate::metrics::METRICS;

/// Most ops applied in one step (one Redis script call).
const BATCH: usize = 512;
/// Most announcements published in one append.
const ANNOUNCE_BATCH: usize = 256;

/// How often the task sweeps and beats.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    sweep_every: Duration,
    heartbeat_every: Duration,
}

impl Timing {
    /// Sweeps at least every second (every half grace when that is shorter, at most ten
    /// times a second); beats every third of the TTL.
    pub(super) fn new(grace: Duration, ttl: Duration) -> Self {
        Self {
            sweep_every: (grace / 2).clamp(Duration::from_millis(100), Duration::from_secs(1)),
            heartbeat_every: (ttl / 3).max(Duration::from_millis(100)),
        }
    }
}

pub(super) struct Bookkeeper {
    store: PresenceStore,
    events: EventLog,
    /// The ledger's clock (single node).
    started: Instant,
    /// Cluster mode: this node's open presences by (client id, selector), opened again if
    /// Redis forgot the node (declared dead while alive, or Redis restarted empty).
    open: HashMap<(String, String), Presence>,
    /// Cluster mode: ops Redis has not taken yet (it was away); retried first.
    pending: Vec<Op>,
}

impl Bookkeeper {
    pub(super) fn new(store: PresenceStore, events: EventLog) -> Self {
        Self {
            store,
            events,
            started: Instant::now(),
            open: HashMap::new(),
            pending: Vec::new(),
        }
    }

    /// Until `stop`: applies ops as they come, sweeps and beats on time. Then applies
    /// what is left and finishes (see [`Self::finish`]).
    pub(super) async fn run(
        mut self,
        mut ops: mpsc::UnboundedReceiver<Op>,
        stop: CancellationToken,
        timing: Timing,
    ) {
        let mut sweeps = tokio::time::interval(timing.sweep_every);
        sweeps.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut beats = tokio::time::interval(timing.heartbeat_every);
        beats.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                received = ops.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        break;
                    }
                    self.apply(std::mem::take(&mut batch)).await;
                }
                _ = sweeps.tick() => self.sweep().await,
                _ = beats.tick() => {
                    if matches!(self.store, PresenceStore::Redis(_)) {
                        self.apply(Vec::new()).await;
                    }
                }
            }
        }
        while let Ok(op) = ops.try_recv() {
            batch.push(op);
        }
        self.apply(batch).await;
        self.finish().await;
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn apply(&mut self, ops: Vec<Op>) {
        let joins = match &self.store {
            PresenceStore::Local(ledger) => {
                let now = self.now_ms();
                let mut ledger = PresenceStore::ledger(ledger);
                ops.iter()
                    .filter_map(|op| match op {
                        Op::Open(presence) => ledger.open(presence),
                        Op::Close(presence) => {
                            ledger.close(presence, now);
                            None
                        }
                    })
                    .collect()
            }
            PresenceStore::Redis(redis) => {
                for op in &ops {
                    match op {
                        Op::Open(p) => {
                            self.open
                                .insert((p.client_id.clone(), p.selector.clone()), p.clone());
                        }
                        Op::Close(p) => {
                            self.open.remove(&(p.client_id.clone(), p.selector.clone()));
                        }
                    }
                }
                self.pending.extend(ops);
                let mut joins = Vec::new();
                // At least one call: with nothing pending it is the heartbeat.
                loop {
                    let take = self.pending.len().min(BATCH);
                    match redis.apply(&self.pending[..take]).await {
                        Ok((fresh, mut joined)) => {
                            self.pending.drain(..take);
                            joins.append(&mut joined);
                            if fresh && !self.open.is_empty() {
                                // Redis did not know this node: open its streams again
                                // (opening an open stream changes nothing).
                                self.pending
                                    .extend(self.open.values().cloned().map(Op::Open));
                            }
                            if self.pending.is_empty() {
                                break;
                            }
                        }
                        Err(e) => {
                            warn!(error = %e, queued = self.pending.len(), "presence could not reach Redis; retrying");
                            METRICS.presence_errors.inc();
                            break;
                        }
                    }
                }
                joins
            }
        };
        self.announce(joins).await;
    }

    async fn sweep(&mut self) {
        let leaves = match &self.store {
            PresenceStore::Local(ledger) => PresenceStore::ledger(ledger).due(self.now_ms()),
            PresenceStore::Redis(redis) => match redis.sweep().await {
                Ok(leaves) => leaves,
                Err(e) => {
                    warn!(error = %e, "presence could not sweep Redis; retrying");
                    METRICS.presence_errors.inc();
                    return;
                }
            },
        };
        self.announce(leaves).await;
    }

    /// At shutdown. A single node announces every member's leave now: nobody is left to
    /// count them. A cluster node leaves its members to the cluster: its closed streams
    /// are in their grace period (clients that reconnect to another node cause no leave),
    /// and what it could not close is retired by the next sweep of a surviving node.
    async fn finish(&mut self) {
        let leaves = match &self.store {
            PresenceStore::Local(ledger) => PresenceStore::ledger(ledger).leave_all(),
            PresenceStore::Redis(redis) => {
                if let Err(e) = redis.retire().await {
                    warn!(error = %e, "presence could not retire this node; its heartbeat will run out");
                    METRICS.presence_errors.inc();
                }
                Vec::new()
            }
        };
        self.announce(leaves).await;
    }

    /// Publishes announcements through the log, in order. One that fails is counted and
    /// logged, not retried: the membership it reported stands either way.
    async fn announce(&self, announcements: Vec<Announcement>) {
        let mut rest: Vec<(Change, NewEvent)> = announcements
            .into_iter()
            .filter_map(|a| {
                let change = a.change;
                a.into_event().map(|event| (change, event))
            })
            .collect();
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(ANNOUNCE_BATCH));
            let (changes, events): (Vec<Change>, Vec<NewEvent>) =
                std::mem::replace(&mut rest, tail).into_iter().unzip();
            match self.events.publish(events, None).await {
                Ok(_) => {
                    for change in changes {
                        match change {
                            Change::Join => METRICS.presence_joins.inc(),
                            Change::Leave => METRICS.presence_leaves.inc(),
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, lost = changes.len(), "presence changes could not be published");
                    METRICS.presence_errors.inc();
                }
            }
        }
    }
}
