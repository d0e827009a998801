//! `taskhub-bench history`: how fast the log reads as pages, and what a large trim by age
//! costs the publishes beside it.
//!
//! ```text
//! start (--history-max-age A) ─► fill N events ─► read every page, 3 passes (events/s)
//!   ─► publishers at a steady rate, from before the trim until after it ends,
//!      while the oldest id kept is sampled every 100 ms: publish latency before the
//!      trim (the filled events younger than A) and while it runs
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::BenchError;
use crate::http::{self, Client};
use crate::latency::{Latency, Summary};
use crate::server::{self, ServerSetup};
use crate::target::Kind;
use crate::url::HttpUrl;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Events per fill request and per page.
const PAGE: usize = 1000;
/// How often the oldest id kept is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct HistoryPlan {
    /// Events filled before reading and before they expire.
    pub events: usize,
    /// `--history-max-age`, in seconds.
    pub max_age_secs: u64,
    /// Publishers during the trim, each one request at a time.
    pub publishers: usize,
    /// Publishes per second, all publishers together.
    pub rate: f64,
}

#[derive(Debug, Serialize)]
pub struct HistoryOutcome {
    pub events: usize,
    pub fill_events_per_sec: f64,
    /// Events per second read as pages of 1000, each pass over the whole log.
    pub page_read_events_per_sec: Vec<f64>,
    /// The same with a filter that keeps one event in ten.
    pub filtered_read_events_per_sec: Vec<f64>,
    /// How long the trim took, from the first expired event gone to the last.
    pub trim_secs: f64,
    pub publish_before_trim: Summary,
    pub publish_during_trim: Summary,
}

/// Runs the plan against a fresh TaskHub.
pub async fn run(setup: &ServerSetup, plan: &HistoryPlan) -> Result<HistoryOutcome, BenchError> {
    let mut setup = setup.clone();
    setup.taskhub_args.extend([
        "--history-max-age".into(),
        format!("{}s", plan.max_age_secs),
        "--history-size".into(),
        (plan.events * 2).to_string(),
    ]);
    let running = server::start(Kind::Taskhub, &setup).await?;
    let base = HttpUrl::parse(&format!(
        "http://127.0.0.1:{}/events",
        setup.port(Kind::Taskhub)
    ))?;
    let outcome = measure(&base, plan).await;
    running.stop().await;
    outcome
}

async fn measure(base: &HttpUrl, plan: &HistoryPlan) -> Result<HistoryOutcome, BenchError> {
    let mut client = Client::new(base.addr, TIMEOUT);
    let started = Instant::now();
    for start in (0..plan.events).step_by(PAGE) {
        let batch: Vec<String> = (start..plan.events.min(start + PAGE))
            .map(|i| format!(r#"{{"event":"fill","topic":"t/{}","data":{i}}}"#, i % 10))
            .collect();
        let body = format!("[{}]", batch.join(","));
        let request = http::request(
            "POST",
            base,
            "Content-Type: application/json\r\n",
            body.as_bytes(),
        );
        expect_status(client.send(&request).await?, 202, "a fill publish")?;
    }
    let filled_at = Instant::now();
    let fill_events_per_sec = plan.events as f64 / started.elapsed().as_secs_f64();

    let mut page_read_events_per_sec = Vec::new();
    let mut filtered_read_events_per_sec = Vec::new();
    for _ in 0..3 {
        page_read_events_per_sec.push(read_all(base, &mut client, "").await?);
        filtered_read_events_per_sec.push(read_all(base, &mut client, "&topics=t/3").await?);
    }

    let oldest_samples = Arc::new(Mutex::new(Vec::new()));
    let until = Arc::new(tokio::sync::Notify::new());
    let sampler = tokio::spawn(sample_oldest(
        base.clone(),
        oldest_samples.clone(),
        until.clone(),
        plan.events as u64,
    ));
    let publishes = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let period = Duration::from_secs_f64(plan.publishers as f64 / plan.rate.max(1.0));
    let mut publishers = Vec::new();
    for _ in 0..plan.publishers {
        let (base, publishes, stop) = (base.clone(), publishes.clone(), stop.clone());
        publishers.push(tokio::spawn(async move {
            let mut client = Client::new(base.addr, TIMEOUT);
            let mut ticks = tokio::time::interval(period);
            let body = br#"{"event":"beside","topic":"live","data":1}"#;
            let request = http::request("POST", &base, "Content-Type: application/json\r\n", body);
            let mut mine = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                ticks.tick().await;
                let sent = Instant::now();
                let answer = client.send(&request).await;
                let took = sent.elapsed();
                if matches!(answer, Ok(ref r) if r.status == 202) {
                    mine.push((sent, took));
                }
            }
            publishes.lock().await.extend(mine);
        }));
    }
    // The sampler ends once every filled event is gone, and a little after.
    until.notified().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for publisher in publishers {
        publisher
            .await
            .map_err(|e| BenchError::Http(format!("a publisher failed: {e}")))?;
    }
    sampler
        .await
        .map_err(|e| BenchError::Http(format!("the sampler failed: {e}")))??;

    let samples = oldest_samples.lock().await;
    let trim_started = samples
        .iter()
        .find(|(_, oldest)| *oldest > 1)
        .map(|(at, _)| *at)
        .ok_or_else(|| BenchError::Http("nothing was ever trimmed".into()))?;
    let trim_ended = samples
        .iter()
        .find(|(_, oldest)| *oldest > plan.events as u64)
        .map_or(trim_started, |(at, _)| *at);
    // The last sample before the trim was seen: it began after it.
    let before_trim = trim_started - SAMPLE_EVERY;
    let (mut before, mut during) = (Latency::default(), Latency::default());
    for (sent, took) in publishes.lock().await.iter() {
        let micros = took.as_micros() as u64;
        if *sent >= filled_at && *sent < before_trim {
            before.record(micros);
        } else if *sent >= before_trim && *sent <= trim_ended {
            during.record(micros);
        }
    }
    Ok(HistoryOutcome {
        events: plan.events,
        fill_events_per_sec,
        page_read_events_per_sec,
        filtered_read_events_per_sec,
        trim_secs: (trim_ended - trim_started).as_secs_f64(),
        publish_before_trim: before.summary(),
        publish_during_trim: during.summary(),
    })
}

/// Reads every page from the first, following `next`; returns events per second.
async fn read_all(base: &HttpUrl, client: &mut Client, filter: &str) -> Result<f64, BenchError> {
    let started = Instant::now();
    let mut target = format!("{}?limit={PAGE}{filter}", base.target);
    let mut events = 0;
    loop {
        let url = HttpUrl {
            addr: base.addr,
            target: target.clone(),
        };
        let response = client.send(&http::request("GET", &url, "", b"")).await?;
        let response = expect_status(response, 200, "a page")?;
        let page: serde_json::Value = serde_json::from_slice(&response.body)
            .map_err(|e| BenchError::Http(format!("a page is not JSON: {e}")))?;
        events += page["events"].as_array().map_or(0, Vec::len);
        match page["next"].as_str() {
            Some(next) => target = next.to_owned(),
            None => break,
        }
    }
    Ok(events as f64 / started.elapsed().as_secs_f64())
}

/// Samples the oldest id kept until every filled event is gone; then wakes `done`.
async fn sample_oldest(
    base: HttpUrl,
    samples: Arc<Mutex<Vec<(Instant, u64)>>>,
    done: Arc<tokio::sync::Notify>,
    filled: u64,
) -> Result<(), BenchError> {
    let mut client = Client::new(base.addr, TIMEOUT);
    let url = HttpUrl {
        addr: base.addr,
        target: format!("{}?limit=1", base.target),
    };
    let deadline = Instant::now() + Duration::from_secs(3_600);
    loop {
        let response = expect_status(
            client.send(&http::request("GET", &url, "", b"")).await?,
            200,
            "the oldest event",
        )?;
        let page: serde_json::Value = serde_json::from_slice(&response.body)
            .map_err(|e| BenchError::Http(format!("a page is not JSON: {e}")))?;
        let oldest = page["events"][0]["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or(u64::MAX);
        samples.lock().await.push((Instant::now(), oldest));
        if oldest > filled || Instant::now() > deadline {
            done.notify_one();
            return Ok(());
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

fn expect_status(
    response: http::Response,
    status: u16,
    what: &str,
) -> Result<http::Response, BenchError> {
    if response.status == status {
        Ok(response)
    } else {
        Err(BenchError::Http(format!(
            "{what} was answered {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )))
    }
}

/// The results as a table, or as JSON.
pub fn emit(outcome: &HistoryOutcome, json: bool) -> Result<(), BenchError> {
    if json {
        let text =
            serde_json::to_string_pretty(outcome).map_err(|e| BenchError::Http(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    let median = |values: &[f64]| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
    };
    println!(
        "history: {} events, filled at {:.0} events/s",
        outcome.events, outcome.fill_events_per_sec
    );
    println!(
        "page reads (limit 1000): median {:.0} events/s of passes {:?}",
        median(&outcome.page_read_events_per_sec),
        outcome
            .page_read_events_per_sec
            .iter()
            .map(|v| v.round())
            .collect::<Vec<_>>()
    );
    println!(
        "filtered page reads (1 in 10 kept): median {:.0} events looked at/s of passes {:?}",
        median(&outcome.filtered_read_events_per_sec) * 10.0,
        outcome
            .filtered_read_events_per_sec
            .iter()
            .map(|v| (v * 10.0).round())
            .collect::<Vec<_>>()
    );
    println!(
        "trim of {} expired events took {:.1} s",
        outcome.events, outcome.trim_secs
    );
    for (label, summary) in [
        ("before the trim", &outcome.publish_before_trim),
        ("during the trim", &outcome.publish_during_trim),
    ] {
        println!(
            "publish {label}: n={} p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            summary.count, summary.p50_ms, summary.p99_ms, summary.max_ms
        );
    }
    Ok(())
}
