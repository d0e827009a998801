//! The publishers: `publishers` tasks, each with its own keep-alive connection and its
//! own sequence of tokens, one request in flight at a time (so a correct server
//! delivers each publisher's events in order).
//!
//! Pacing:
//! - [`Pace::Rate`]: a fixed total rate, spread evenly over the publishers;
//! - [`Pace::Window`]: as fast as the subscribers keep up: a publisher waits while more
//!   than `window` published events have not reached the slowest reading subscriber
//!   (so nothing overflows a server's per-subscriber buffer);
//! - [`Pace::Open`]: as fast as the server acknowledges.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::clock::now_micros;
use crate::error::BenchError;
use crate::http::Client;
use crate::latency::Latency;
use crate::target::Target;
use crate::token::Token;
use crate::tracker::Sent;

/// How fast to publish.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Events per second, all publishers together.
    Rate(f64),
    /// Published events allowed ahead of the slowest reading subscriber.
    Window(u64),
    /// Next request as soon as the last one is answered.
    Open,
}

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishPlan {
    pub publishers: usize,
    pub pace: Pace,
    /// Events per request (capped by what the server's API takes).
    pub batch: usize,
    pub duration: Duration,
    /// Bytes of padding in each event's data.
    pub pad: usize,
    pub request_timeout: Duration,
    /// Stop after this many events per publisher, even before `duration`.
    pub max_events: Option<u64>,
}

/// What the publishers did.
#[derive(Debug, Clone, Default)]
pub struct PublishReport {
    pub sent: Vec<Sent>,
    pub requests: u64,
    pub failed_requests: u64,
    pub acked_events: u64,
    pub first_error: Option<String>,
    /// Request round trips (send to answer) of acknowledged requests.
    pub ack_latency: Latency,
    pub started_micros: u64,
    pub finished_micros: u64,
}

impl PublishReport {
    /// Acknowledged events per second over the publishing window.
    pub fn acked_per_sec(&self) -> f64 {
        let secs = self.finished_micros.saturating_sub(self.started_micros) as f64 / 1e6;
        if secs > 0.0 {
            self.acked_events as f64 / secs
        } else {
            0.0
        }
    }
}

/// One publisher's account.
#[derive(Debug, Default)]
struct One {
    next_seq: u64,
    unacked: Vec<u64>,
    requests: u64,
    failed: u64,
    acked: u64,
    first_error: Option<String>,
    latency: Latency,
}

/// Runs the plan. `delivered` (the slowest subscriber's count) is needed for
/// [`Pace::Window`].
pub async fn publish(
    target: &Target,
    plan: &PublishPlan,
    delivered: Option<watch::Receiver<Option<u64>>>,
) -> Result<PublishReport, BenchError> {
    let addr = target.publish_url()?.addr;
    let batch = plan.batch.clamp(1, target.kind.max_batch());
    let pad = "x".repeat(plan.pad);
    let published = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + plan.duration;
    let started_micros = now_micros();
    let publishers = plan.publishers.max(1);
    let mut tasks = Vec::with_capacity(publishers);
    for p in 0..publishers {
        let ctx = Ctx {
            target: target.clone(),
            publisher: u32::try_from(p).unwrap_or(u32::MAX),
            batch,
            pad: pad.clone(),
            pace: plan.pace,
            publishers,
            deadline,
            max_events: plan.max_events.unwrap_or(u64::MAX),
            published: Arc::clone(&published),
            delivered: delivered.clone(),
            client: Client::new(addr, plan.request_timeout),
        };
        tasks.push(tokio::spawn(ctx.run()));
    }
    let mut report = PublishReport {
        started_micros,
        ..PublishReport::default()
    };
    for task in tasks {
        let one = task
            .await
            .map_err(|e| BenchError::Worker(format!("a publisher panicked: {e}")))??;
        report.sent.push(Sent {
            count: one.next_seq,
            unacked: one.unacked,
        });
        report.requests += one.requests;
        report.failed_requests += one.failed;
        report.acked_events += one.acked;
        report.ack_latency.merge(&one.latency);
        if report.first_error.is_none() {
            report.first_error = one.first_error;
        }
    }
    report.finished_micros = now_micros();
    Ok(report)
}

#[derive(Debug)]
struct Ctx {
    target: Target,
    publisher: u32,
    batch: usize,
    pad: String,
    pace: Pace,
    publishers: usize,
    deadline: Instant,
    max_events: u64,
    /// Events sent by all publishers (acknowledged or not).
    published: Arc<AtomicU64>,
    delivered: Option<watch::Receiver<Option<u64>>>,
    client: Client,
}

impl Ctx {
    async fn run(mut self) -> Result<One, BenchError> {
        let mut one = One::default();
        let mut ticker = match self.pace {
            Pace::Rate(rate) if rate > 0.0 => {
                let period = self.batch as f64 * self.publishers as f64 / rate;
                let period = Duration::from_secs_f64(period.max(1e-6));
                // Stagger the publishers so their events are evenly spaced.
                let phase = period.mul_f64(f64::from(self.publisher) / self.publishers as f64);
                let mut ticker = tokio::time::interval_at(Instant::now() + phase, period);
                ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
                Some(ticker)
            }
            _ => None,
        };
        while one.next_seq < self.max_events {
            if let Some(ticker) = &mut ticker {
                tokio::select! {
                    _ = ticker.tick() => {}
                    () = tokio::time::sleep_until(self.deadline) => break,
                }
            }
            if let Pace::Window(window) = self.pace
                && !self.wait_for_room(window).await
            {
                break;
            }
            if Instant::now() >= self.deadline {
                break;
            }
            self.send_one(&mut one).await?;
        }
        Ok(one)
    }

    /// Waits until fewer than `window` events are ahead of the slowest subscriber;
    /// false if the deadline came first.
    async fn wait_for_room(&mut self, window: u64) -> bool {
        let Some(delivered) = &mut self.delivered else {
            return true;
        };
        loop {
            let slowest = (*delivered.borrow_and_update()).unwrap_or(u64::MAX);
            if self.published.load(Ordering::Relaxed) < slowest.saturating_add(window) {
                return true;
            }
            tokio::select! {
                changed = delivered.changed() => if changed.is_err() { return true },
                () = tokio::time::sleep_until(self.deadline) => return false,
            }
        }
    }

    async fn send_one(&mut self, one: &mut One) -> Result<(), BenchError> {
        let sent_micros = now_micros();
        let first = one.next_seq;
        let tokens: Vec<Token> = (first..first + self.batch as u64)
            .map(|seq| Token {
                publisher: self.publisher,
                seq,
                sent_micros,
            })
            .collect();
        let request = self.target.publish_request(&tokens, &self.pad)?;
        one.next_seq += self.batch as u64;
        one.requests += 1;
        self.published
            .fetch_add(self.batch as u64, Ordering::Relaxed);
        let started = Instant::now();
        let outcome = match self.client.send(&request).await {
            Ok(r) if (200..300).contains(&r.status) => Ok(()),
            Ok(r) => Err(format!(
                "HTTP {}: {}",
                r.status,
                String::from_utf8_lossy(&r.body[..r.body.len().min(200)]).trim()
            )),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(()) => {
                one.acked += self.batch as u64;
                one.latency
                    .record(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
            }
            Err(e) => {
                one.failed += 1;
                one.unacked.extend(first..one.next_seq);
                one.first_error.get_or_insert(e);
            }
        }
        Ok(())
    }
}
