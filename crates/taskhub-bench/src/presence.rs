//! `taskhub-bench presence`: what presence costs a fresh TaskHub, apart from fan-out
//! (which `suite --presence on|off` measures as an A/B).
//!
//! Streams are opened at a set rate (5,000 a second by default), each filtered on one
//! topic and, with authentication off, each a member of its own: every connect is a
//! join. Then: how fast they were accepted, how long after the last one the server had
//! announced every join (its bookkeeping's lag), what `GET /presence` costs with them all
//! present, the RSS they add, and how long after they all left every leave was announced
//! (the grace period plus the lag).
//!
//! ```text
//! start ─► open N present streams ─► joins announced? ─► GET /presence × k ─► leave ─► leaves announced?
//! ```

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::BenchError;
use crate::fleet::{Fleet, FleetPlan};
use crate::flood::{note, wait};
use crate::http::{self, Client};
use crate::procfs;
use crate::progress::ProgressLine;
use crate::protocol::Role;
use crate::server::{self, Running, ServerSetup};
use crate::target::{Kind, PresenceMode};
use crate::url::HttpUrl;

/// Time the workers have to report and exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to announce what it owes before the run gives up.
const ANNOUNCE_WITHIN: Duration = Duration::from_secs(60);
/// Source addresses `127.0.249.x`, apart from the other commands'.
const STREAM_NET: u8 = 249;

/// How big the run is.
#[derive(Debug, Clone)]
pub struct PresencePlan {
    /// Present streams opened and held.
    pub streams: usize,
    /// New connections per second, all workers together.
    pub connect_rate: f64,
    /// The server's `--presence-grace-secs`.
    pub grace_secs: u64,
    /// `GET /presence` calls timed with every stream present.
    pub listings: usize,
    pub workers: usize,
    pub per_source: usize,
}

/// One presence run.
#[derive(Debug, Clone)]
pub struct PresenceConfig {
    pub plan: PresencePlan,
    pub setup: ServerSetup,
    /// This binary, run as the workers.
    pub exe: PathBuf,
    pub quiet: bool,
}

/// What a presence run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PresenceOutcome {
    pub streams: usize,
    pub connected: usize,
    pub failed: usize,
    /// From the first connect to the last stream open.
    pub connect_secs: f64,
    pub connects_per_sec: f64,
    /// `presence.join` events the server published.
    pub joins: u64,
    /// From the last stream open until every join was announced.
    pub joins_lag_secs: f64,
    /// `GET /presence` round trips with every stream present, median and worst.
    pub listing_median_ms: f64,
    pub listing_max_ms: f64,
    /// The count it answered.
    pub listed_count: u64,
    pub rss_start_kib: u64,
    pub rss_present_kib: u64,
    /// `presence.leave` events the server published.
    pub leaves: u64,
    /// From the clients leaving until every leave was announced (grace included).
    pub leaves_secs: f64,
    pub grace_secs: u64,
    /// The first few distinct errors the clients saw.
    pub errors: Vec<String>,
}

/// Starts a fresh TaskHub, measures and stops it.
pub async fn run(config: &PresenceConfig) -> Result<PresenceOutcome, BenchError> {
    let mut line = ProgressLine::new("[presence]", config.quiet);
    line.update("starting a fresh server", None);
    let mut setup = config.setup.clone();
    setup.taskhub_args.extend([
        "--presence-grace-secs".to_owned(),
        config.plan.grace_secs.to_string(),
    ]);
    let running = server::start(Kind::Taskhub, &setup).await?;
    let outcome = measure(config, &running, &mut line).await;
    line.update("stopping the server", None);
    running.stop().await;
    match &outcome {
        Ok(o) => line.finish(&format!(
            "{} streams at {:.0}/s, joins {:.2} s behind, GET /presence {:.1} ms",
            o.connected, o.connects_per_sec, o.joins_lag_secs, o.listing_median_ms
        )),
        Err(e) => line.finish(&format!("failed: {e}")),
    }
    outcome
}

async fn measure(
    config: &PresenceConfig,
    running: &Running,
    line: &mut ProgressLine,
) -> Result<PresenceOutcome, BenchError> {
    let plan = &config.plan;
    let pids = running.pids();
    let base = HttpUrl::parse(&running.target.publish)?;
    let metrics = base.with_target("/metrics".to_owned());
    let listing = base.with_target(format!("/presence?topics={}", crate::target::EVENT));
    let mut client = Client::new(base.addr, Duration::from_secs(10));
    let rss_start = procfs::sample(&pids).rss_kib;
    let target = running.target.clone().with_presence(Some(PresenceMode::On));
    let fleet = Fleet::spawn(
        &config.exe,
        &FleetPlan {
            target,
            role: Role::Subscriber,
            subscribers: plan.streams,
            workers: plan.workers,
            per_source: plan.per_source,
            source_net: STREAM_NET,
            connect_rate: plan.connect_rate,
            connect_in_flight: 256,
            retries: 2,
            stall_fraction: 0.0,
            stall_recv_buffer: 4096,
            progress_ms: 100,
        },
    )
    .await?;
    let began = Instant::now();
    let opened = wait(&fleet, line, "opening present streams", plan.streams, |p| {
        p.connected + p.failed
    })
    .await;
    let connect_secs = began.elapsed().as_secs_f64();
    let connected = opened.connected;
    line.update("waiting for every join", None);
    let open_at = Instant::now();
    let joins = until_counted(
        &mut client,
        &metrics,
        "taskhub_presence_joins_total",
        connected,
    )
    .await?;
    let joins_lag_secs = open_at.elapsed().as_secs_f64();
    let rss_present = procfs::sample(&pids).rss_kib;

    let mut times = Vec::with_capacity(plan.listings);
    let mut listed_count = 0;
    for i in 0..plan.listings {
        line.update(
            &format!("GET /presence {}/{}", i + 1, plan.listings),
            Some(i as f64 / plan.listings.max(1) as f64),
        );
        let sent = Instant::now();
        let response = client
            .send(&http::request("GET", &listing, "", b""))
            .await?;
        times.push(sent.elapsed().as_secs_f64() * 1000.0);
        let answer: serde_json::Value = serde_json::from_slice(&response.body)
            .map_err(BenchError::json("reading GET /presence"))?;
        listed_count = answer["topics"][0]["count"].as_u64().unwrap_or(0);
    }
    times.sort_by(f64::total_cmp);

    let mut errors = Vec::new();
    note(&mut errors, fleet.stop(&[], STOP_TIMEOUT).await?.errors);
    line.update("waiting for every leave", None);
    let left_at = Instant::now();
    let leaves = until_counted(
        &mut client,
        &metrics,
        "taskhub_presence_leaves_total",
        connected,
    )
    .await?;
    Ok(PresenceOutcome {
        streams: plan.streams,
        connected,
        failed: opened.failed,
        connect_secs,
        connects_per_sec: connected as f64 / connect_secs.max(1e-9),
        joins,
        joins_lag_secs,
        listing_median_ms: times.get(times.len() / 2).copied().unwrap_or(0.0),
        listing_max_ms: times.last().copied().unwrap_or(0.0),
        listed_count,
        rss_start_kib: rss_start,
        rss_present_kib: rss_present,
        leaves,
        leaves_secs: left_at.elapsed().as_secs_f64(),
        grace_secs: plan.grace_secs,
        errors,
    })
}

/// Polls `/metrics` every 10 ms until the counter `name` reaches `wanted` (or
/// [`ANNOUNCE_WITHIN`] passes); its value then.
async fn until_counted(
    client: &mut Client,
    metrics: &HttpUrl,
    name: &str,
    wanted: usize,
) -> Result<u64, BenchError> {
    let deadline = Instant::now() + ANNOUNCE_WITHIN;
    loop {
        let response = client.send(&http::request("GET", metrics, "", b"")).await?;
        let text = String::from_utf8_lossy(&response.body);
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0) as u64;
        if value >= wanted as u64 || Instant::now() > deadline {
            return Ok(value);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Prints the outcome: its table, or the JSON document.
pub fn emit(outcome: &PresenceOutcome, json: bool) -> Result<(), BenchError> {
    if json {
        let text = serde_json::to_string_pretty(outcome)
            .map_err(BenchError::json("encoding the results"))?;
        println!("{text}");
    } else {
        println!("{}", table(outcome));
    }
    Ok(())
}

/// The Markdown table of one run.
pub fn table(o: &PresenceOutcome) -> String {
    let mib = |kib: u64| kib as f64 / 1024.0;
    format!(
        "| present streams | connects/s | joins announced | joins behind | GET /presence median / max | RSS start → present | leaves announced, after |\n\
         |---|---|---|---|---|---|---|\n\
         | {}/{} ({} failed) | {:.0} | {} | {:.2} s | {:.1} / {:.1} ms (count {}) | {:.1} → {:.1} MiB | {} in {:.2} s (grace {} s) |{}",
        o.connected,
        o.streams,
        o.failed,
        o.connects_per_sec,
        o.joins,
        o.joins_lag_secs,
        o.listing_median_ms,
        o.listing_max_ms,
        o.listed_count,
        mib(o.rss_start_kib),
        mib(o.rss_present_kib),
        o.leaves,
        o.leaves_secs,
        o.grace_secs,
        o.errors
            .iter()
            .map(|e| format!("\nclient saw: {e}"))
            .collect::<String>(),
    )
}
