//! One target's deliverer: a task that walks the log from the target's cursor, POSTs each
//! selected event, and records each outcome in the ledger before moving on.
//!
//! It holds the target's lease while it works (on one node always granted; in a cluster
//! one node at a time), renewing it at least every [`RENEW_EVERY`]; a renewal refused, or
//! a progress record refused because the lease or the generation changed, ends the
//! session, and the deliverer reads its state again. It sleeps on the hub's ring while the
//! log has nothing after its cursor, so new commits wake it without polling.
//!
//! At-least-once: the cursor moves only after an event's outcome (delivered, or parked)
//! is recorded, so an event in flight when the process dies is sent again after restart,
//! with the same `webhook-id`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Deserialize;
use taskhub_core::{EventId, Timestamp};
use taskhub_engine::{
    Advanced, EngineError, IdRange, Order, ParkedEvent, WebhookAttempt, WebhookProgress,
};
use tokio::sync::Notify;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::config::{MAX_ANSWER_BYTES, Target, WebhookSettings};
use crate::backend::EventLog;
use crate::hub::{Hub, Live};
use crate::metrics::{METRICS, WebhookSeries};
use crate::outbound::{self, OutboundRequest, Reach};

/// How long a lease lasts without renewal, at least: a node that stops renewing (killed,
/// cut off) hands the target to another within this. Longer with a long
/// `--webhook-timeout-secs` ([`Deliverer::lease`]), so a lease never runs out during an
/// attempt made just after a renewal.
const LEASE: Duration = Duration::from_secs(15);
/// How often the holder renews its lease, and an idle deliverer looks for a redelivery
/// asked on another node.
pub(crate) const RENEW_EVERY: Duration = Duration::from_secs(5);
/// Events read from the log at a time.
const PAGE: usize = 64;
/// The first retry's delay; each failure doubles it, up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Delivers to one target until `stop` is cancelled.
pub(crate) struct Deliverer {
    pub(crate) index: usize,
    pub(crate) settings: Arc<WebhookSettings>,
    pub(crate) events: EventLog,
    pub(crate) hub: Arc<Hub>,
    /// This node's name in leases.
    pub(crate) holder: Arc<str>,
    /// Notified by `POST /webhooks/redeliver` on this node, so the deliverer reads its
    /// state again at once.
    pub(crate) redelivery: Arc<Notify>,
    /// Where the target starts if the ledger has no state for it yet.
    pub(crate) start: EventId,
    pub(crate) stop: CancellationToken,
    /// Whether the last attempt failed: a failure is logged when the target starts
    /// failing, and a delivery when it recovers, not every attempt. Only this task
    /// touches it (an atomic because the task's future borrows the deliverer).
    pub(crate) failing: AtomicBool,
    /// The cursor as this deliverer last knew it, for the lag gauge. Only this task
    /// writes it.
    pub(crate) cursor: AtomicU64,
}

/// Why a session ended.
enum End {
    /// The state changed (or an event was settled): read it again.
    Reload,
    /// Another node holds the lease.
    NotHolder,
    Stopped,
}

/// How one event's delivery ended.
enum Done {
    Delivered(WebhookAttempt),
    Parked(WebhookAttempt),
    /// The lease or the generation changed underneath.
    Stale,
    Stopped,
}

/// When the lease was last renewed.
struct Lease(Instant);

impl Deliverer {
    fn target(&self) -> &Target {
        &self.settings.targets[self.index]
    }

    /// The lease: [`LEASE`], or longer than two attempts and a renewal period.
    fn lease(&self) -> Duration {
        LEASE.max(self.settings.timeout * 2 + RENEW_EVERY)
    }

    fn series(&self) -> Option<&WebhookSeries> {
        METRICS.webhooks.get().and_then(|all| all.get(self.index))
    }

    pub(crate) async fn run(self) {
        let mut wake = self.hub.subscribe();
        let mut failures = 0u32;
        let origin = self.target().url.origin();
        info!(webhook = self.index, %origin, "delivering webhooks");
        while !self.stop.is_cancelled() {
            match self.session(&mut wake).await {
                Ok(End::Stopped) => break,
                Ok(End::Reload) => failures = 0,
                Ok(End::NotHolder) => {
                    failures = 0;
                    self.pause(RENEW_EVERY).await;
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    if failures == 1 {
                        warn!(webhook = self.index, %origin, %error, "webhook delivery paused: the log is unavailable");
                    }
                    self.pause(backoff(failures)).await;
                }
            }
        }
        // Another node may take over at once rather than when the lease runs out.
        let _ = self.events.release(&self.target().text, &self.holder).await;
    }

    /// Sleeps for `delay`, or until stopped.
    async fn pause(&self, delay: Duration) {
        tokio::select! {
            () = self.stop.cancelled() => {}
            () = tokio::time::sleep(delay) => {}
        }
    }

    /// Renews the lease when it is due; `false` when another node has it now.
    async fn renew(&self, lease: &mut Lease) -> Result<bool, EngineError> {
        if lease.0.elapsed() < RENEW_EVERY {
            return Ok(true);
        }
        lease.0 = Instant::now();
        self.events
            .claim(&self.target().text, &self.holder, self.lease())
            .await
    }

    async fn session(&self, wake: &mut Live) -> Result<End, EngineError> {
        let target = &self.target().text;
        if !self
            .events
            .claim(target, &self.holder, self.lease())
            .await?
        {
            return Ok(End::NotHolder);
        }
        let mut lease = Lease(Instant::now());
        let state = match self.events.inspect_webhook(target).await? {
            Some(state) => state,
            // A new target gets what is published from the server's start on.
            None => self.events.webhook_state(target, self.start).await?,
        };
        let generation = state.generation;
        if let Some(parked) = state.parked.iter().find(|p| p.requeued_at.is_some()) {
            return self.redeliver_parked(parked, generation, &mut lease).await;
        }
        let mut cursor = state.cursor;
        loop {
            if !self.renew(&mut lease).await? {
                return Ok(End::NotHolder);
            }
            self.note_cursor(cursor);
            let page = self
                .events
                .read(
                    IdRange {
                        after: cursor,
                        before: None,
                    },
                    Order::Ascending,
                    PAGE,
                )
                .await?;
            if page.is_empty() {
                match self.idle(wake).await {
                    Idle::Stopped => return Ok(End::Stopped),
                    Idle::Redelivery => return Ok(End::Reload),
                    Idle::Woken => continue,
                    Idle::Tick => {
                        let now = self.events.inspect_webhook(target).await?;
                        if now.is_none_or(|now| now.generation != generation) {
                            return Ok(End::Reload);
                        }
                        continue;
                    }
                }
            }
            let mut skipped_to = None;
            for frame in page {
                if !self.settings.selects(frame.event_type()) {
                    skipped_to = Some(frame.id());
                    continue;
                }
                let origin = envelope_time(frame.envelope()).max(
                    state
                        .replayed_at
                        .unwrap_or(Timestamp::from_unix_millis(i64::MIN)),
                );
                let done = self
                    .until_settled(frame.id(), frame.envelope(), origin, generation, &mut lease)
                    .await?;
                let progress = match done {
                    // Delivered from the log (a replay), it is no longer parked.
                    Done::Delivered(attempt) => WebhookProgress {
                        generation,
                        cursor: Some(frame.id()),
                        attempt: Some(attempt),
                        park: None,
                        unpark: Some(frame.id()),
                    },
                    Done::Parked(attempt) => WebhookProgress {
                        generation,
                        cursor: Some(frame.id()),
                        park: Some(parked(frame.id(), frame.envelope(), &attempt)),
                        attempt: Some(attempt),
                        unpark: None,
                    },
                    Done::Stale => return Ok(End::Reload),
                    Done::Stopped => return Ok(End::Stopped),
                };
                if self.advance(progress).await? == Advanced::Stale {
                    return Ok(End::Reload);
                }
                cursor = frame.id();
                skipped_to = None;
            }
            if let Some(to) = skipped_to {
                let progress = WebhookProgress {
                    generation,
                    cursor: Some(to),
                    attempt: None,
                    park: None,
                    unpark: None,
                };
                if self.advance(progress).await? == Advanced::Stale {
                    return Ok(End::Reload);
                }
                cursor = to;
            }
        }
    }

    /// Delivers one parked event again (a redelivery asked for it): delivered, it leaves
    /// the parked list; failing past the maximum age again, it stays parked.
    async fn redeliver_parked(
        &self,
        event: &ParkedEvent,
        generation: u64,
        lease: &mut Lease,
    ) -> Result<End, EngineError> {
        let origin = event.requeued_at.unwrap_or(event.parked_at);
        let done = self
            .until_settled(event.id, &event.envelope, origin, generation, lease)
            .await?;
        let progress = match done {
            Done::Delivered(attempt) => WebhookProgress {
                generation,
                cursor: None,
                attempt: Some(attempt),
                park: None,
                unpark: Some(event.id),
            },
            Done::Parked(attempt) => WebhookProgress {
                generation,
                cursor: None,
                park: Some(parked(event.id, &event.envelope, &attempt)),
                attempt: Some(attempt),
                unpark: None,
            },
            Done::Stale => return Ok(End::Reload),
            Done::Stopped => return Ok(End::Stopped),
        };
        self.advance(progress).await?;
        Ok(End::Reload)
    }

    async fn advance(&self, progress: WebhookProgress) -> Result<Advanced, EngineError> {
        self.events
            .advance(&self.target().text, &self.holder, progress)
            .await
    }

    /// Remembers the cursor and reports the lag behind it.
    fn note_cursor(&self, cursor: EventId) {
        self.cursor.store(cursor.get(), Ordering::Relaxed);
        self.report_lag();
    }

    /// Sets the lag gauge: the newest event the hub saw, less the cursor.
    fn report_lag(&self) {
        if let Some(series) = self.series() {
            let cursor = self.cursor.load(Ordering::Relaxed);
            let lag = self.hub.newest().get().saturating_sub(cursor);
            series.lag.set(i64::try_from(lag).unwrap_or(i64::MAX));
        }
    }

    /// Waits for a commit, a redelivery asked on this node, the next lease renewal, or
    /// the stop.
    async fn idle(&self, wake: &mut Live) -> Idle {
        let woken = tokio::select! {
            () = self.stop.cancelled() => return Idle::Stopped,
            () = self.redelivery.notified() => return Idle::Redelivery,
            () = tokio::time::sleep(RENEW_EVERY) => return Idle::Tick,
            woken = wake.recv() => woken,
        };
        if let Err(RecvError::Closed) = woken {
            // The hub closed: the server is stopping.
            self.stop.cancelled().await;
            return Idle::Stopped;
        }
        // One read of the log serves every commit that woke us.
        loop {
            match wake.try_recv() {
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(_) => return Idle::Woken,
            }
        }
    }

    /// Attempts one event until it is delivered or has failed past the maximum age
    /// (counted from `origin`), backing off with jitter between attempts and recording
    /// each failure.
    async fn until_settled(
        &self,
        id: EventId,
        envelope: &str,
        origin: Timestamp,
        generation: u64,
        lease: &mut Lease,
    ) -> Result<Done, EngineError> {
        let max_age = i64::try_from(self.settings.max_age.as_millis()).unwrap_or(i64::MAX);
        let deadline = origin.unix_millis().saturating_add(max_age);
        let mut failures = 0u32;
        loop {
            if !self.renew(lease).await? {
                return Ok(Done::Stale);
            }
            let attempt = tokio::select! {
                // An attempt cut short is made again after restart (at-least-once).
                () = self.stop.cancelled() => return Ok(Done::Stopped),
                attempt = self.post(id, envelope) => attempt,
            };
            let Some(error) = &attempt.error else {
                if let Some(series) = self.series() {
                    series.deliveries.inc();
                }
                if self.failing.swap(false, Ordering::Relaxed) {
                    info!(webhook = self.index, event = %id, "webhook target answering again");
                }
                return Ok(Done::Delivered(attempt));
            };
            failures = failures.saturating_add(1);
            if let Some(series) = self.series() {
                series.failures.inc();
            }
            // Events keep arriving behind a failing one: the lag says so meanwhile.
            self.report_lag();
            let now = Timestamp::now().unix_millis();
            if now >= deadline {
                if let Some(series) = self.series() {
                    series.parked.inc();
                }
                warn!(webhook = self.index, event = %id, %error, "webhook event parked: it failed for longer than --webhook-max-age");
                return Ok(Done::Parked(attempt));
            }
            if !self.failing.swap(true, Ordering::Relaxed) {
                warn!(webhook = self.index, event = %id, %error, "webhook delivery failing; retrying with backoff");
            } else {
                debug!(webhook = self.index, event = %id, failures, %error, "webhook delivery failed again");
            }
            let progress = WebhookProgress {
                generation,
                cursor: None,
                attempt: Some(attempt),
                park: None,
                unpark: None,
            };
            if self.advance(progress).await? == Advanced::Stale {
                return Ok(Done::Stale);
            }
            let left = Duration::from_millis(u64::try_from(deadline - now).unwrap_or(0));
            let until = Instant::now() + backoff(failures).min(left);
            // Sleep in slices no longer than a renewal period, renewing the lease.
            while Instant::now() < until {
                let slice = (until - Instant::now()).min(RENEW_EVERY);
                tokio::select! {
                    () = self.stop.cancelled() => return Ok(Done::Stopped),
                    () = tokio::time::sleep(slice) => {}
                }
                if !self.renew(lease).await? {
                    return Ok(Done::Stale);
                }
            }
        }
    }

    /// One signed POST of the envelope.
    async fn post(&self, id: EventId, envelope: &str) -> WebhookAttempt {
        let id_text = id.to_string();
        let at = Timestamp::now();
        let seconds = at.unix_millis().div_euclid(1000);
        let signature = self
            .settings
            .secret
            .sign(&id_text, seconds, envelope.as_bytes());
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("webhook-id", id_text),
            ("webhook-timestamp", seconds.to_string()),
            ("webhook-signature", signature),
        ] {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        let answer = outbound::send(OutboundRequest {
            method: Method::POST,
            url: &self.target().url,
            json: Some(envelope.as_bytes().to_vec()),
            timeout: self.settings.timeout,
            max_body_bytes: MAX_ANSWER_BYTES,
            headers,
            reach: if self.settings.allow_private {
                Reach::Any
            } else {
                Reach::Public
            },
        })
        .await;
        match answer {
            Ok(answer) if answer.status.is_success() => WebhookAttempt {
                at,
                status: Some(answer.status.as_u16()),
                error: None,
            },
            Ok(answer) => {
                let redirect = if answer.status.is_redirection() {
                    " (redirects are not followed)"
                } else {
                    ""
                };
                let body: String = String::from_utf8_lossy(&answer.body)
                    .chars()
                    .take(200)
                    .collect();
                let detail = if body.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", body.trim())
                };
                WebhookAttempt {
                    at,
                    status: Some(answer.status.as_u16()),
                    error: Some(format!("answered {}{redirect}{detail}", answer.status)),
                }
            }
            Err(error) => WebhookAttempt {
                at,
                status: None,
                error: Some(error.to_string()),
            },
        }
    }
}

enum Idle {
    Woken,
    Redelivery,
    Tick,
    Stopped,
}

fn parked(id: EventId, envelope: &str, attempt: &WebhookAttempt) -> ParkedEvent {
    ParkedEvent {
        id,
        envelope: envelope.to_owned(),
        parked_at: attempt.at,
        last_status: attempt.status,
        last_error: attempt.error.clone().unwrap_or_default(),
        requeued_at: None,
    }
}

/// When the event was committed (its envelope's `timestamp`); now if unreadable.
fn envelope_time(envelope: &str) -> Timestamp {
    #[derive(Deserialize)]
    struct Stamp<'a> {
        #[serde(borrow)]
        timestamp: &'a str,
    }
    serde_json::from_str::<Stamp<'_>>(envelope)
        .ok()
        .and_then(|stamp| Timestamp::parse(stamp.timestamp).ok())
        .unwrap_or_else(Timestamp::now)
}

/// The delay before retry number `failures` (from 1): doubling from [`BACKOFF_FIRST`] up
/// to [`BACKOFF_MAX`], then a random point in its upper half, so targets that failed
/// together do not retry together.
fn backoff(failures: u32) -> Duration {
    let doubled = BACKOFF_FIRST.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    let delay = doubled.min(BACKOFF_MAX);
    let half = delay / 2;
    let random = getrandom::u64().unwrap_or(0);
    let jitter_ms = random % (u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1));
    half + Duration::from_millis(jitter_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for failures in 1..40 {
            let nominal = BACKOFF_FIRST
                .saturating_mul(1u32 << (failures - 1).min(20))
                .min(BACKOFF_MAX);
            let delay = backoff(failures);
            assert!(
                delay >= nominal / 2 && delay <= nominal,
                "{failures}: {delay:?}"
            );
        }
        assert!(backoff(100) <= BACKOFF_MAX);
    }

    #[test]
    fn an_envelope_is_dated_by_its_timestamp() {
        let at = envelope_time(r#"{"id":"1","timestamp":"2026-01-02T03:04:05.006Z","x":1}"#);
        assert_eq!(at.to_string(), "2026-01-02T03:04:05.006Z");
        let now = Timestamp::now().unix_millis();
        assert!(envelope_time("not json").unix_millis() >= now);
    }
}
