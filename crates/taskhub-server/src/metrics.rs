//! The process's metrics: a fixed set of atomic counters, gauges and one histogram,
//! rendered as Prometheus text by `GET /metrics`. `docs/metrics.md` explains each series.
//!
//! A static registry rather than a metrics crate: the set is small and known, every
//! update is one relaxed atomic add, and rendering reads the atomics. Per-delivery
//! counts are not made here at all: each stream counts its deliveries in a plain field
//! and adds them in bulk (see `subscription`), so fan-out costs no shared write per event
//! per subscriber.

use std::fmt::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// The one registry. Every field is updated with relaxed atomics: each is an independent
/// tally, read only to be reported.
pub(crate) static METRICS: Metrics = Metrics::new();

#[derive(Debug)]
pub(crate) struct Metrics {
    pub(crate) streams_open: Gauge,
    pub(crate) streams_opened: Counter,
    pub(crate) streams_rejected: Counter,
    pub(crate) streams_rejected_reserve: Counter,
    pub(crate) connections_open: Gauge,
    pub(crate) connections_limit: Gauge,
    pub(crate) connections_deferred: Counter,
    pub(crate) accept_out_of_descriptors: Counter,
    pub(crate) events_published: Counter,
    pub(crate) events_delivered: Counter,
    pub(crate) slow_client_disconnects: Counter,
    pub(crate) lagged_events: Counter,
    pub(crate) gaps: Counter,
    pub(crate) replays: Counter,
    pub(crate) resets: Counter,
    pub(crate) store_errors: Counter,
    pub(crate) write_timeouts: Counter,
    pub(crate) jwks_fetches: Counter,
    pub(crate) jwks_fetch_failures: Counter,
    pub(crate) auth_hook_calls: Counter,
    pub(crate) auth_hook_cache_hits: Counter,
    pub(crate) auth_hook_waits: Counter,
    pub(crate) auth_hook_refusals: Counter,
    pub(crate) auth_hook_failures: Counter,
    pub(crate) presence_joins: Counter,
    pub(crate) presence_leaves: Counter,
    pub(crate) presence_errors: Counter,
    pub(crate) publish_duration: Histogram,
    /// One set of series per webhook target, set once at start (`--webhook-url`).
    pub(crate) webhooks: OnceLock<Box<[WebhookSeries]>>,
}

/// A webhook target's series, labelled by its position among the `--webhook-url`s and its
/// origin (never its path or query, which may hold a secret).
#[derive(Debug)]
pub(crate) struct WebhookSeries {
    pub(crate) labels: String,
    pub(crate) deliveries: Counter,
    pub(crate) failures: Counter,
    pub(crate) parked: Counter,
    pub(crate) lag: Gauge,
}

impl WebhookSeries {
    pub(crate) fn new(index: usize, origin: &str) -> Self {
        Self {
            labels: format!("webhook=\"{index}\",origin=\"{origin}\""),
            deliveries: Counter::new(),
            failures: Counter::new(),
            parked: Counter::new(),
            lag: Gauge::new(),
        }
    }
}

impl Metrics {
    const fn new() -> Self {
        Self {
            streams_open: Gauge::new(),
            streams_opened: Counter::new(),
            streams_rejected: Counter::new(),
            streams_rejected_reserve: Counter::new(),
            connections_open: Gauge::new(),
            connections_limit: Gauge::new(),
            connections_deferred: Counter::new(),
            accept_out_of_descriptors: Counter::new(),
            events_published: Counter::new(),
            events_delivered: Counter::new(),
            slow_client_disconnects: Counter::new(),
            lagged_events: Counter::new(),
            gaps: Counter::new(),
            replays: Counter::new(),
            resets: Counter::new(),
            store_errors: Counter::new(),
            write_timeouts: Counter::new(),
            jwks_fetches: Counter::new(),
            jwks_fetch_failures: Counter::new(),
            auth_hook_calls: Counter::new(),
            auth_hook_cache_hits: Counter::new(),
            auth_hook_waits: Counter::new(),
            auth_hook_refusals: Counter::new(),
            auth_hook_failures: Counter::new(),
            presence_joins: Counter::new(),
            presence_leaves: Counter::new(),
            presence_errors: Counter::new(),
            publish_duration: Histogram::new(),
            webhooks: OnceLock::new(),
        }
    }

    /// The webhook targets' series, when there are any.
    fn render_webhooks(&self, out: &mut String) {
        let Some(targets) = self.webhooks.get().filter(|t| !t.is_empty()) else {
            return;
        };
        type Read = fn(&WebhookSeries) -> i64;
        let series: [(&str, &str, &str, Read); 4] = [
            (
                "taskhub_webhook_deliveries_total",
                "counter",
                "Events a webhook target answered with 2xx.",
                |t| i64::try_from(t.deliveries.get()).unwrap_or(i64::MAX),
            ),
            (
                "taskhub_webhook_failures_total",
                "counter",
                "Webhook attempts that failed (no answer, or not 2xx); each is retried.",
                |t| i64::try_from(t.failures.get()).unwrap_or(i64::MAX),
            ),
            (
                "taskhub_webhook_parked_total",
                "counter",
                "Events parked after failing past --webhook-max-age.",
                |t| i64::try_from(t.parked.get()).unwrap_or(i64::MAX),
            ),
            (
                "taskhub_webhook_lag_events",
                "gauge",
                "Events committed after a webhook target's cursor, as its deliverer last saw (0 on nodes not delivering to it).",
                |t| t.lag.get(),
            ),
        ];
        for (name, kind, help, read) in series {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
            for target in targets {
                let _ = writeln!(out, "{name}{{{}}} {}", target.labels, read(target));
            }
        }
    }

    /// The Prometheus text exposition (format 0.0.4) of every series.
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let gauges = [
            (
                "taskhub_streams_open",
                "Event streams open now (connected SSE clients).",
                self.streams_open.get(),
            ),
            (
                "taskhub_connections_open",
                "Client connections open now (streams and other requests).",
                self.connections_open.get(),
            ),
            (
                "taskhub_connections_limit",
                "Client connections the open-file limit leaves room for, set at start.",
                self.connections_limit.get(),
            ),
        ];
        for (name, help, value) in gauges {
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            );
        }
        let counters = [
            (
                "taskhub_streams_opened_total",
                "Event streams accepted.",
                &self.streams_opened,
            ),
            (
                "taskhub_streams_rejected_total",
                "Event streams refused with 503 at --max-clients.",
                &self.streams_rejected,
            ),
            (
                "taskhub_streams_rejected_reserve_total",
                "Event streams refused with 503 because the open connections reached the reserve kept below taskhub_connections_limit.",
                &self.streams_rejected_reserve,
            ),
            (
                "taskhub_connections_deferred_total",
                "Times the accept loop stopped accepting because every connection slot was in use.",
                &self.connections_deferred,
            ),
            (
                "taskhub_accept_out_of_descriptors_total",
                "Accepts that failed for lack of file descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM).",
                &self.accept_out_of_descriptors,
            ),
            (
                "taskhub_events_published_total",
                "Events committed to the log and handed to the hub.",
                &self.events_published,
            ),
            (
                "taskhub_events_delivered_total",
                "Events written to subscribers' streams, replays included (one per event per subscriber).",
                &self.events_delivered,
            ),
            (
                "taskhub_slow_client_disconnects_total",
                "Streams ended because the subscriber fell more than --client-buffer events behind (policy disconnect).",
                &self.slow_client_disconnects,
            ),
            (
                "taskhub_lagged_events_total",
                "Events slow subscribers missed on the live ring (replayed later under disconnect, reported by a gap under drop-oldest).",
                &self.lagged_events,
            ),
            (
                "taskhub_gaps_total",
                "gap events sent (policy drop-oldest).",
                &self.gaps,
            ),
            (
                "taskhub_replays_total",
                "Streams that resumed from a Last-Event-ID and caught up from the log.",
                &self.replays,
            ),
            (
                "taskhub_resets_total",
                "reset events sent: a resume id the log no longer (or never) held.",
                &self.resets,
            ),
            (
                "taskhub_store_errors_total",
                "Requests answered 503 and streams ended because the store failed.",
                &self.store_errors,
            ),
            (
                "taskhub_write_timeouts_total",
                "Connections closed because the client left response bytes unread for --write-timeout-secs.",
                &self.write_timeouts,
            ),
            (
                "taskhub_jwks_fetches_total",
                "Fetches of a JWKS key set (--jwt-jwks-url, --mercure-jwks-url): at start, on refresh, and for a token with an unknown kid.",
                &self.jwks_fetches,
            ),
            (
                "taskhub_jwks_fetch_failures_total",
                "JWKS fetches that failed (no answer, not 200, or not a usable key set); the cached keys stay in use.",
                &self.jwks_fetch_failures,
            ),
            (
                "taskhub_auth_hook_calls_total",
                "Requests to the auth hook (--auth-hook-url): credentials without a cached answer.",
                &self.auth_hook_calls,
            ),
            (
                "taskhub_auth_hook_cache_hits_total",
                "Requests let in by a cached auth hook answer, without calling the hook.",
                &self.auth_hook_cache_hits,
            ),
            (
                "taskhub_auth_hook_waits_total",
                "Requests that waited for the hook call another request with the same credentials was making, and shared its answer, instead of calling the hook.",
                &self.auth_hook_waits,
            ),
            (
                "taskhub_auth_hook_refusals_total",
                "Auth hook answers of 401 or 403, passed on to the client.",
                &self.auth_hook_refusals,
            ),
            (
                "taskhub_presence_joins_total",
                "presence.join events this node published (a member's first stream on a selector).",
                &self.presence_joins,
            ),
            (
                "taskhub_presence_leaves_total",
                "presence.leave events this node published (a grace period ended, or a dead node's streams were retired).",
                &self.presence_leaves,
            ),
            (
                "taskhub_presence_errors_total",
                "Presence steps that failed (Redis away, the log refusing an announcement); bookkeeping is retried, a lost announcement is not.",
                &self.presence_errors,
            ),
            (
                "taskhub_auth_hook_failures_total",
                "Auth hook calls that failed (no answer in time, another status, a malformed answer): the request got 503.",
                &self.auth_hook_failures,
            ),
        ];
        for (name, help, counter) in counters {
            let value = counter.get();
            let _ = write!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            );
        }
        self.render_webhooks(&mut out);
        self.publish_duration.render(
            &mut out,
            "taskhub_publish_duration_seconds",
            "Time from a parsed POST /events to its durable commit (queueing, group commit, fsync).",
        );
        out
    }
}

/// A monotonically increasing count.
#[derive(Debug)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    pub(crate) fn inc(&self) {
        self.add(1);
    }

    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug)]
pub(crate) struct Gauge(AtomicI64);

impl Gauge {
    const fn new() -> Self {
        Self(AtomicI64::new(0))
    }

    pub(crate) fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds of the latency buckets, in seconds: from a lone commit on a fast disk to
/// a stalled one.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Durations in fixed buckets, Prometheus-style (cumulative when rendered).
#[derive(Debug)]
pub(crate) struct Histogram {
    /// Observations per bucket, not cumulative; the last slot is `+Inf`.
    counts: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Histogram {
    const fn new() -> Self {
        Self {
            counts: [const { AtomicU64::new(0) }; BUCKETS.len() + 1],
            sum_nanos: AtomicU64::new(0),
        }
    }

    pub(crate) fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} histogram\n");
        let mut cumulative = 0;
        for (slot, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            match BUCKETS.get(slot) {
                Some(bound) => writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}"),
                None => writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}"),
            }
            .unwrap_or_default();
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = write!(out, "{name}_sum {sum}\n{name}_count {cumulative}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_at_inf() {
        let histogram = Histogram::new();
        histogram.observe(Duration::from_micros(300));
        histogram.observe(Duration::from_millis(7));
        histogram.observe(Duration::from_secs(5));
        let mut out = String::new();
        histogram.render(&mut out, "h", "help");
        assert!(out.contains("h_bucket{le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"0.01\"} 2\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"2.5\"} 2\n"), "{out}");
        assert!(out.contains("h_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("h_count 3\n"), "{out}");
        assert!(out.contains("h_sum 5.0073\n"), "{out}");
    }
}
