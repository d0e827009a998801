//! One measurement of one running server: open the subscribers, publish, wait for the
//! deliveries, read the server's CPU and memory from `/proc`, and account for it all.
//!
//! ```text
//! idle RSS ─► connect N ─► settle ─► loaded RSS, CPU₀ ─► publish ─► drain ─► CPU₁ ─► stop workers
//! ```
//! The drain ends when every reading subscriber has every acknowledged event, when
//! deliveries stop for `QUIET`, or at `drain_timeout`; what is missing then is late.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::BenchError;
use crate::fleet::{Fleet, FleetPlan};
use crate::latency::{Latency, Summary};
use crate::procfs::{self, Sample};
use crate::progress::ProgressLine;
use crate::protocol::{Report, Role};
use crate::publisher::{self, PublishPlan, PublishReport};
use crate::target::Target;

/// No new delivery for this long after publishing ended: the drain is over.
const QUIET: Duration = Duration::from_secs(3);
/// No new connection (nor failure) for this long: connecting is over.
const CONNECT_QUIET: Duration = Duration::from_secs(30);
/// Quantiles the latency curve is drawn at.
pub const CURVE: [f64; 13] = [
    0.0, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99995, 0.99999, 1.0,
];

/// What one measurement does.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub subscribers: usize,
    pub workers: usize,
    pub per_source: usize,
    /// Third octet of the source addresses (see `FleetPlan::source_net`).
    pub source_net: u8,
    pub connect_rate: f64,
    pub connect_in_flight: usize,
    pub retries: u32,
    pub stall_fraction: f64,
    pub stall_recv_buffer: u32,
    /// Pause between the last connection and the measurement.
    pub settle: Duration,
    /// Without publishing: how long the connections are held before memory is read.
    pub hold: Duration,
    pub publish: Option<PublishPlan>,
    pub drain_timeout: Duration,
}

/// Everything measured in one run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub subscribers: usize,
    pub connected: usize,
    pub failed: usize,
    /// Streams the server ended before the run did.
    pub closed_early: usize,
    pub stalled: usize,
    pub publishers: usize,
    pub batch: usize,
    /// Acknowledged events.
    pub published: u64,
    pub publish_requests: u64,
    pub publish_failures: u64,
    pub publish_error: Option<String>,
    /// Acknowledged events per second.
    pub publish_per_sec: f64,
    /// Publish round trips.
    pub ack: Summary,
    /// Acknowledged events × reading subscribers.
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub late: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub foreign: u64,
    /// Unique deliveries per second, from the first publish to the last delivery.
    pub deliveries_per_sec: f64,
    /// The slowest whole second of deliveries while publishing.
    pub min_deliveries_per_sec: f64,
    pub latency: Summary,
    /// `(quantile, ms)` points of the latency distribution.
    pub curve: Vec<(f64, f64)>,
    /// Server CPU time (user + system) from the first publish to the end of the drain.
    pub server_cpu_secs: f64,
    /// That CPU time per delivered event (per acknowledged event without subscribers).
    pub cpu_us_per_event: f64,
    /// The load generator's subscriber workers' CPU time over the same window (they
    /// share the machine's cores with the server).
    pub client_cpu_secs: f64,
    pub rss_idle_kib: u64,
    pub rss_loaded_kib: u64,
    pub rss_peak_kib: u64,
    pub rss_end_kib: u64,
    /// `(loaded − idle) / connected`.
    pub rss_per_conn_bytes: f64,
    /// `(seconds since the first publish, RSS KiB)`, one per second.
    pub rss_series: Vec<(f64, u64)>,
    pub window_secs: f64,
    pub server_processes: usize,
    /// The machine's 1-minute load average before connecting and at the end.
    pub load_before: f64,
    pub load_after: f64,
    pub errors: Vec<String>,
}

/// Measures `target`, whose processes `pids` lists, with workers running `exe`.
pub async fn measure(
    exe: &Path,
    target: &Target,
    pids: &dyn Fn() -> Vec<u32>,
    spec: &RunSpec,
    line: &mut ProgressLine,
) -> Result<Outcome, BenchError> {
    let ticks = procfs::ticks_per_sec() as f64;
    let load_before = procfs::load_average();
    let idle = procfs::sample(&pids());
    let fleet = if spec.subscribers > 0 {
        let plan = FleetPlan {
            target: target.clone(),
            role: Role::Subscriber,
            subscribers: spec.subscribers,
            workers: spec.workers,
            per_source: spec.per_source,
            source_net: spec.source_net,
            connect_rate: spec.connect_rate,
            connect_in_flight: spec.connect_in_flight,
            retries: spec.retries,
            stall_fraction: spec.stall_fraction,
            stall_recv_buffer: spec.stall_recv_buffer,
            progress_ms: 25,
        };
        let fleet = Fleet::spawn(exe, &plan).await?;
        wait_connected(&fleet, spec.subscribers, line).await;
        Some(fleet)
    } else {
        None
    };
    tokio::time::sleep(spec.settle).await;
    let server = pids();
    let loaded = procfs::sample(&server);
    let mut outcome = Outcome {
        subscribers: spec.subscribers,
        server_processes: loaded.processes,
        rss_idle_kib: idle.rss_kib,
        rss_loaded_kib: loaded.rss_kib,
        rss_peak_kib: loaded.rss_kib,
        load_before,
        ..Outcome::default()
    };
    if let Some(fleet) = &fleet {
        let p = fleet.progress();
        outcome.connected = p.connected;
        outcome.failed = p.failed;
        outcome.stalled = p.stalled;
        if p.connected > 0 {
            outcome.rss_per_conn_bytes =
                loaded.rss_kib.saturating_sub(idle.rss_kib) as f64 * 1024.0 / p.connected as f64;
        }
    }
    let publish = match &spec.publish {
        Some(plan) => {
            let context = Context {
                fleet: fleet.as_ref(),
                spec,
                server: &server,
                loaded,
            };
            Some(publish_and_drain(target, plan, &context, &mut outcome, line).await?)
        }
        None => {
            hold(fleet.as_ref(), spec.hold, line).await;
            None
        }
    };
    let end = procfs::sample(&server);
    outcome.load_after = procfs::load_average();
    outcome.rss_end_kib = end.rss_kib;
    outcome.rss_peak_kib = outcome.rss_peak_kib.max(end.rss_kib);
    let sent = publish
        .as_ref()
        .map(|(p, _)| p.sent.clone())
        .unwrap_or_default();
    let report = match fleet {
        Some(fleet) => Some(fleet.stop(&sent, Duration::from_secs(120)).await?),
        None => None,
    };
    if let Some((publish, cpu_start)) = &publish {
        account_publish(&mut outcome, publish, spec);
        outcome.server_cpu_secs = end.cpu_ticks.saturating_sub(*cpu_start) as f64 / ticks;
    }
    if let Some(report) = &report {
        account_deliveries(&mut outcome, report, publish.as_ref().map(|(p, _)| p));
    }
    let per = if spec.subscribers > 0 {
        outcome.delivered
    } else {
        outcome.published
    };
    if per > 0 {
        outcome.cpu_us_per_event = outcome.server_cpu_secs * 1e6 / per as f64;
    }
    Ok(outcome)
}

async fn wait_connected(fleet: &Fleet, wanted: usize, line: &mut ProgressLine) {
    let mut last_change = Instant::now();
    let mut last_seen = 0;
    loop {
        let p = fleet.progress();
        let done = p.connected + p.failed;
        line.update(
            &format!("connecting {}/{wanted} (failed {})", p.connected, p.failed),
            Some(done as f64 / wanted.max(1) as f64),
        );
        if done >= wanted {
            return;
        }
        if done != last_seen {
            last_seen = done;
            last_change = Instant::now();
        } else if last_change.elapsed() > CONNECT_QUIET {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn hold(fleet: Option<&Fleet>, hold: Duration, line: &mut ProgressLine) {
    let start = Instant::now();
    while start.elapsed() < hold {
        if let Some(fleet) = fleet {
            let p = fleet.progress();
            line.update(
                &format!("holding {} connections", p.connected - p.closed),
                Some(start.elapsed().as_secs_f64() / hold.as_secs_f64().max(1e-9)),
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What publishing needs to know about the run so far.
#[derive(Debug)]
struct Context<'a> {
    fleet: Option<&'a Fleet>,
    spec: &'a RunSpec,
    server: &'a [u32],
    loaded: Sample,
}

/// Publishes, then waits for the deliveries; the report and the server's CPU ticks at
/// the first publish.
async fn publish_and_drain(
    target: &Target,
    plan: &PublishPlan,
    context: &Context<'_>,
    outcome: &mut Outcome,
    line: &mut ProgressLine,
) -> Result<(PublishReport, u64), BenchError> {
    let Context {
        fleet,
        spec,
        server,
        loaded,
    } = *context;
    let readers = fleet.map_or(0, |f| {
        let p = f.progress();
        (p.connected - p.stalled) as u64
    });
    let start = Instant::now();
    let cpu_start = procfs::sample(server).cpu_ticks;
    let client_pids = fleet.map(Fleet::pids).unwrap_or_default();
    let client_start = procfs::sample(&client_pids).cpu_ticks;
    let delivered_watch = fleet.map(Fleet::min_delivered);
    let publishing = publisher::publish(target, plan, delivered_watch);
    tokio::pin!(publishing);
    let mut last_rss = Instant::now();
    let mut peak = loaded.rss_kib;
    let mut series = Vec::new();
    let sample_rss = |series: &mut Vec<(f64, u64)>, peak: &mut u64| {
        let rss = procfs::sample(server).rss_kib;
        *peak = (*peak).max(rss);
        series.push((start.elapsed().as_secs_f64(), rss));
    };
    let report = loop {
        tokio::select! {
            report = &mut publishing => break report?,
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        if last_rss.elapsed() >= Duration::from_secs(1) {
            last_rss = Instant::now();
            sample_rss(&mut series, &mut peak);
        }
        let elapsed = start.elapsed().as_secs_f64();
        let delivered = fleet.map_or(0, |f| f.progress().delivered);
        line.update(
            &format!(
                "publishing {elapsed:.0}/{:.0} s, delivered {delivered} ({:.0}/s)",
                plan.duration.as_secs_f64(),
                delivered as f64 / elapsed.max(1e-9)
            ),
            Some(elapsed / plan.duration.as_secs_f64().max(1e-9)),
        );
    };
    if let Some(fleet) = fleet {
        let expected = report.acked_events * readers;
        let drain_start = Instant::now();
        let mut last = fleet.progress().delivered;
        let mut last_change = Instant::now();
        loop {
            let delivered = fleet.progress().delivered;
            if delivered >= expected || drain_start.elapsed() >= spec.drain_timeout {
                break;
            }
            if delivered != last {
                last = delivered;
                last_change = Instant::now();
            } else if last_change.elapsed() >= QUIET {
                break;
            }
            if last_rss.elapsed() >= Duration::from_secs(1) {
                last_rss = Instant::now();
                sample_rss(&mut series, &mut peak);
            }
            line.update(
                &format!("draining: {delivered}/{expected} delivered"),
                Some(delivered as f64 / expected.max(1) as f64),
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    sample_rss(&mut series, &mut peak);
    let client_ticks = procfs::sample(&client_pids)
        .cpu_ticks
        .saturating_sub(client_start);
    outcome.client_cpu_secs = client_ticks as f64 / procfs::ticks_per_sec() as f64;
    outcome.rss_peak_kib = peak;
    outcome.rss_series = series;
    outcome.window_secs = start.elapsed().as_secs_f64();
    Ok((report, cpu_start))
}

fn account_publish(outcome: &mut Outcome, publish: &PublishReport, spec: &RunSpec) {
    let plan = spec.publish.as_ref();
    outcome.publishers = plan.map_or(0, |p| p.publishers);
    outcome.batch = plan.map_or(0, |p| p.batch);
    outcome.published = publish.acked_events;
    outcome.publish_requests = publish.requests;
    outcome.publish_failures = publish.failed_requests;
    outcome.publish_error.clone_from(&publish.first_error);
    outcome.publish_per_sec = publish.acked_per_sec();
    outcome.ack = publish.ack_latency.summary();
}

fn account_deliveries(outcome: &mut Outcome, report: &Report, publish: Option<&PublishReport>) {
    let p = report.progress;
    outcome.connected = outcome.connected.max(p.connected);
    outcome.failed = p.failed;
    outcome.closed_early = p.closed;
    outcome.stalled = p.stalled;
    outcome.delivered = p.delivered;
    outcome.lost = report.lost;
    outcome.late = report.late;
    outcome.duplicates = report.duplicates;
    outcome.out_of_order = report.out_of_order;
    outcome.foreign = report.foreign;
    outcome.errors.clone_from(&report.errors);
    let latency = Latency::from_pairs(&report.latency);
    outcome.latency = latency.summary();
    if latency.count() > 0 {
        outcome.curve = CURVE.iter().map(|&q| (q, latency.quantile_ms(q))).collect();
    }
    if let Some(publish) = publish {
        outcome.expected = publish.acked_events * (p.connected - p.stalled) as u64;
        let span = report
            .last_delivery_micros
            .saturating_sub(publish.started_micros) as f64
            / 1e6;
        if span > 0.0 {
            outcome.deliveries_per_sec = outcome.delivered as f64 / span;
        }
        // Whole seconds strictly inside the publishing window.
        let first = publish.started_micros / 1_000_000 + 1;
        let last = publish.finished_micros / 1_000_000;
        let inside: Vec<u64> = (first..last)
            .map(|s| {
                report
                    .per_second
                    .iter()
                    .find(|(sec, _)| *sec == s)
                    .map_or(0, |(_, n)| *n)
            })
            .collect();
        outcome.min_deliveries_per_sec = inside.iter().copied().min().unwrap_or(0) as f64;
    }
}
