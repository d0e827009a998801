//! `taskhub-bench flood`: does TaskHub give its memory back after a connection flood?
//!
//! A fresh server and its RSS at start; event streams opened and held; beside them,
//! rounds of slow request heads (slowloris: never finished, so the server cuts them at
//! its header timeout); then every client leaves, and the RSS `after` later is held
//! against the bound: the RSS at start plus a slack.
//!
//! ```text
//! start ─► open streams ─► rounds: slow heads until cut ─► clients leave ─► wait ─► after
//!          └───────────── peak: RSS sampled every 100 ms ──────────────┘
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::BenchError;
use crate::fleet::{Fleet, FleetPlan};
use crate::procfs;
use crate::progress::ProgressLine;
use crate::protocol::{Progress, Role};
use crate::server::{self, Running, ServerSetup};
use crate::target::Kind;

/// Pause after the server answers before its RSS at start is read.
const SETTLE: Duration = Duration::from_secs(1);
/// How often the peak is sampled.
const PEAK_EVERY: Duration = Duration::from_millis(100);
/// No connection opened nor cut for this long: that phase is over.
const QUIET: Duration = Duration::from_secs(30);
/// Time the workers have to report and exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Source addresses: streams from `127.0.251.x`, round `r`'s slow heads from
/// `127.0.(252 + r).x` (at most `.255`), apart from `load`'s (`127.0.0.x`) and the
/// suite's (`127.0.1.x` to `127.0.250.x`).
const STREAM_NET: u8 = 251;

/// How big the flood is.
#[derive(Debug, Clone)]
pub struct FloodPlan {
    /// Event streams held through the rounds.
    pub streams: usize,
    /// Slow request heads in each round, all open at once.
    pub slow_heads: usize,
    pub rounds: usize,
    /// New connections per second, all workers together (0: no limit but the 256
    /// attempts in flight).
    pub connect_rate: f64,
    pub workers: usize,
    pub per_source: usize,
    /// How long after the clients left the RSS is read against the bound.
    pub after: Duration,
    /// The bound is the RSS at start plus this.
    pub slack_kib: u64,
}

/// One flood run.
#[derive(Debug, Clone)]
pub struct FloodConfig {
    pub plan: FloodPlan,
    pub setup: ServerSetup,
    /// This binary, run as the workers.
    pub exe: PathBuf,
    pub quiet: bool,
}

/// One round of slow heads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Round {
    pub opened: usize,
    pub failed: usize,
    /// Closed by the server.
    pub cut: usize,
    /// The most open at once (sampled every 100 ms).
    pub most_open: usize,
    /// From the first connection to the last cut.
    pub secs: f64,
}

/// What a flood measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FloodOutcome {
    pub streams: usize,
    pub streams_connected: usize,
    pub slow_heads: usize,
    pub rounds: Vec<Round>,
    pub rss_start_kib: u64,
    pub rss_peak_kib: u64,
    /// Just after the last client left.
    pub rss_left_kib: u64,
    /// `after_secs` after the last client left.
    pub rss_after_kib: u64,
    pub after_secs: f64,
    /// `(seconds since the clients left, RSS KiB)`, one a second.
    pub rss_after_series: Vec<(f64, u64)>,
    /// The first of those seconds whose RSS was within the bound.
    pub within_bound_secs: Option<f64>,
    /// The RSS at start plus the slack.
    pub bound_kib: u64,
    /// Whether the RSS `after_secs` after the clients left was within the bound.
    pub met: bool,
    /// The machine's 1-minute load average before and at the end.
    pub load_before: f64,
    pub load_after: f64,
    /// The first few distinct errors the clients saw.
    pub errors: Vec<String>,
}

/// Starts a fresh TaskHub, floods it and stops it.
pub async fn run(config: &FloodConfig) -> Result<FloodOutcome, BenchError> {
    let mut line = ProgressLine::new("[flood]", config.quiet);
    line.update("starting a fresh server", None);
    let running = server::start(Kind::Taskhub, &config.setup).await?;
    let outcome = measure(config, &running, &mut line).await;
    line.update("stopping the server", None);
    running.stop().await;
    match &outcome {
        Ok(o) => line.finish(&format!(
            "RSS {:.1} → peak {:.1} → {:.1} MiB {:.0} s after the clients left: bound {}",
            mib(o.rss_start_kib),
            mib(o.rss_peak_kib),
            mib(o.rss_after_kib),
            o.after_secs,
            if o.met { "met" } else { "NOT met" }
        )),
        Err(e) => line.finish(&format!("failed: {e}")),
    }
    outcome
}

async fn measure(
    config: &FloodConfig,
    running: &Running,
    line: &mut ProgressLine,
) -> Result<FloodOutcome, BenchError> {
    let plan = &config.plan;
    let pids = running.pids();
    let load_before = procfs::load_average();
    tokio::time::sleep(SETTLE).await;
    let start = procfs::sample(&pids).rss_kib;
    let peak = Arc::new(AtomicU64::new(start));
    let sampler = tokio::spawn(sample_peak(pids.clone(), Arc::clone(&peak)));
    let fleet_plan = |role, connections, source_net| FleetPlan {
        target: running.target.clone(),
        role,
        subscribers: connections,
        workers: plan.workers,
        per_source: plan.per_source,
        source_net,
        connect_rate: plan.connect_rate,
        connect_in_flight: 256,
        retries: 2,
        stall_fraction: 0.0,
        stall_recv_buffer: 4096,
        progress_ms: 100,
    };

    let streams = Fleet::spawn(
        &config.exe,
        &fleet_plan(Role::Subscriber, plan.streams, STREAM_NET),
    )
    .await?;
    let opened = wait(&streams, line, "opening streams", plan.streams, |p| {
        p.connected + p.failed
    })
    .await;
    let mut errors = Vec::new();
    let mut rounds = Vec::new();
    for r in 0..plan.rounds {
        let began = Instant::now();
        let net = STREAM_NET
            .saturating_add(1)
            .saturating_add(r.try_into().unwrap_or(u8::MAX));
        let slow = Fleet::spawn(
            &config.exe,
            &fleet_plan(Role::SlowHead, plan.slow_heads, net),
        )
        .await?;
        let what = format!("round {}/{}: slow heads cut", r + 1, plan.rounds);
        let mut most_open = 0;
        let p = wait(&slow, line, &what, plan.slow_heads, |p| {
            most_open = most_open.max(p.connected - p.closed);
            p.closed + p.failed
        })
        .await;
        rounds.push(Round {
            opened: p.connected,
            failed: p.failed,
            cut: p.closed,
            most_open,
            secs: began.elapsed().as_secs_f64(),
        });
        note(&mut errors, slow.stop(&[], STOP_TIMEOUT).await?.errors);
    }
    // The workers exit: every stream closes.
    note(&mut errors, streams.stop(&[], STOP_TIMEOUT).await?.errors);
    sampler.abort();

    let left = Instant::now();
    let rss_left = procfs::sample(&pids).rss_kib;
    let bound = start + plan.slack_kib;
    let mut series = Vec::new();
    while left.elapsed() < plan.after {
        let remaining = plan.after.saturating_sub(left.elapsed());
        tokio::time::sleep(remaining.min(Duration::from_secs(1))).await;
        let rss = procfs::sample(&pids).rss_kib;
        series.push((left.elapsed().as_secs_f64(), rss));
        line.update(
            &format!("clients gone: RSS {:.1} MiB", mib(rss)),
            Some(left.elapsed().as_secs_f64() / plan.after.as_secs_f64().max(1e-9)),
        );
    }
    let rss_after = series.last().map_or(rss_left, |&(_, rss)| rss);
    Ok(FloodOutcome {
        streams: plan.streams,
        streams_connected: opened.connected,
        slow_heads: plan.slow_heads,
        rounds,
        rss_start_kib: start,
        rss_peak_kib: peak.load(Ordering::Relaxed).max(rss_left),
        rss_left_kib: rss_left,
        rss_after_kib: rss_after,
        after_secs: left.elapsed().as_secs_f64(),
        within_bound_secs: series
            .iter()
            .find(|&&(_, rss)| rss <= bound)
            .map(|&(secs, _)| secs),
        rss_after_series: series,
        bound_kib: bound,
        met: rss_after <= bound,
        load_before,
        load_after: procfs::load_average(),
        errors,
    })
}

/// Keeps `peak` at the highest RSS of `pids` seen, until aborted.
async fn sample_peak(pids: Vec<u32>, peak: Arc<AtomicU64>) {
    loop {
        peak.fetch_max(procfs::sample(&pids).rss_kib, Ordering::Relaxed);
        tokio::time::sleep(PEAK_EVERY).await;
    }
}

/// Waits until `done(progress)` reaches `wanted`, or nothing changed for [`QUIET`]
/// (shared with `presence`).
pub(crate) async fn wait(
    fleet: &Fleet,
    line: &mut ProgressLine,
    what: &str,
    wanted: usize,
    mut done: impl FnMut(&Progress) -> usize,
) -> Progress {
    let mut last_change = Instant::now();
    let mut last = fleet.progress();
    loop {
        let p = fleet.progress();
        let n = done(&p);
        line.update(
            &format!("{what} {n}/{wanted}"),
            Some(n as f64 / wanted.max(1) as f64),
        );
        if n >= wanted {
            return p;
        }
        if p != last {
            last = p;
            last_change = Instant::now();
        } else if last_change.elapsed() > QUIET {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn note(errors: &mut Vec<String>, new: Vec<String>) {
    for e in new {
        if errors.len() < 8 && !errors.contains(&e) {
            errors.push(e);
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Prints the outcome: its table, or the JSON document.
pub fn emit(outcome: &FloodOutcome, json: bool) -> Result<(), BenchError> {
    if json {
        let text = serde_json::to_string_pretty(outcome)
            .map_err(BenchError::json("encoding the results"))?;
        println!("{text}");
    } else {
        println!("{}", table(outcome));
    }
    Ok(())
}

/// The flood as Markdown: the RSS row, then one row per round.
pub fn table(o: &FloodOutcome) -> String {
    let within = o
        .within_bound_secs
        .map_or("never".to_owned(), |s| format!("after {s:.0} s"));
    let mut text = format!(
        "| streams | RSS start MiB | RSS peak MiB | RSS clients gone MiB | RSS {:.0} s later MiB \
         | bound MiB | within the bound | bound met |\n\
         |---|---|---|---|---|---|---|---|\n\
         | {}/{} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {within} | {} |\n\n\
         | round | slow heads opened | most open at once | failed | cut by the server | seconds |\n\
         |---|---|---|---|---|---|\n",
        o.after_secs,
        o.streams_connected,
        o.streams,
        mib(o.rss_start_kib),
        mib(o.rss_peak_kib),
        mib(o.rss_left_kib),
        mib(o.rss_after_kib),
        mib(o.bound_kib),
        if o.met { "yes" } else { "**no**" },
    );
    for (i, r) in o.rounds.iter().enumerate() {
        text.push_str(&format!(
            "| {} | {}/{} | {} | {} | {} | {:.1} |\n",
            i + 1,
            r.opened,
            o.slow_heads,
            r.most_open,
            r.failed,
            r.cut,
            r.secs
        ));
    }
    text.push_str(&format!(
        "\nmachine load average {:.1} before, {:.1} after",
        o.load_before, o.load_after
    ));
    for e in &o.errors {
        text.push_str(&format!("\nclient saw: {e}"));
    }
    text
}
