//! Webhooks: each selected event of the log POSTed to each `--webhook-url`, signed per
//! Standard Webhooks, at least once and in log order per target (docs/webhooks.md).
//!
//! - `config`: the flags, checked at start into [`WebhookSettings`].
//! - `secret`: the signing secret and the signature.
//! - `deliver`: one target's deliverer, a task that follows the log from the target's
//!   cursor in the ledger (`taskhub_engine::WebhookLedger`, kept with the log), under
//!   the target's lease.
//!
//! The deliverers read the log through `EventLog::read` and wait on the hub's ring like
//! any stream, so fan-out never waits on a webhook: a slow target only falls behind in
//! the log, where its cursor keeps its place.

mod config;
mod deliver;
mod secret;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use taskhub_core::EventId;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) use config::{Target, WebhookSettings};
pub use config::{WebhookConfig, WebhookConfigError, defaults};
pub use secret::ParseSecretError;

use crate::backend::EventLog;
use crate::hub::Hub;
use crate::metrics::{METRICS, WebhookSeries};
use deliver::Deliverer;

/// The webhook targets of this node, what `GET /webhooks` reports on and what
/// `POST /webhooks/redeliver` wakes.
#[derive(Debug)]
pub(crate) struct Webhooks {
    pub(crate) settings: Arc<WebhookSettings>,
    /// One per target: wakes its deliverer here after a redelivery request, so it reads
    /// its state at once (a deliverer on another node notices within a lease renewal).
    redelivery: Vec<Arc<Notify>>,
    /// This node's name in the targets' leases: unique per process.
    holder: Arc<str>,
    /// Where a target new to the ledger starts: the newest event when the server started.
    start: EventId,
}

impl Webhooks {
    pub(crate) fn new(settings: WebhookSettings, start: EventId) -> Self {
        let series: Box<[WebhookSeries]> = settings
            .targets
            .iter()
            .enumerate()
            .map(|(index, target)| WebhookSeries::new(index, &target.url.origin()))
            .collect();
        // Set once per process; a second server in one process (tests) keeps the first's.
        let _ = METRICS.webhooks.set(series);
        let holder = format!(
            "{}-{:016x}",
            std::process::id(),
            getrandom::u64().unwrap_or_default()
        );
        Self {
            redelivery: settings
                .targets
                .iter()
                .map(|_| Arc::new(Notify::new()))
                .collect(),
            settings: Arc::new(settings),
            holder: holder.into(),
            start,
        }
    }

    /// The target with this URL, as given to `--webhook-url`.
    pub(crate) fn find(&self, url: &str) -> Option<(usize, &Target)> {
        self.settings
            .targets
            .iter()
            .enumerate()
            .find(|(_, target)| target.text == url)
    }

    /// Tells target `index`'s deliverer (if on this node) that a redelivery was asked for.
    pub(crate) fn wake(&self, index: usize) {
        if let Some(notify) = self.redelivery.get(index) {
            notify.notify_one();
        }
    }

    /// Starts one deliverer per target; each ends when `stop` is cancelled.
    pub(crate) fn spawn(
        &self,
        events: &EventLog,
        hub: &Arc<Hub>,
        stop: &CancellationToken,
    ) -> Vec<JoinHandle<()>> {
        (0..self.settings.targets.len())
            .map(|index| {
                tokio::spawn(
                    Deliverer {
                        index,
                        settings: Arc::clone(&self.settings),
                        events: events.clone(),
                        hub: Arc::clone(hub),
                        holder: Arc::clone(&self.holder),
                        redelivery: Arc::clone(&self.redelivery[index]),
                        start: self.start,
                        failing: AtomicBool::new(false),
                        cursor: AtomicU64::new(self.start.get()),
                        stop: stop.clone(),
                    }
                    .run(),
                )
            })
            .collect()
    }
}
