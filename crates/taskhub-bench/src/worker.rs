//! A worker process (`taskhub-bench worker`): opens its share of the subscribers (or of a
//! flood's slow request heads, `Role::SlowHead`), reports progress on stdout, and on
//! `Stop` counts what each subscriber missed and reports.
//!
//! One thread, one current-thread runtime: the coordinator runs as many workers as there
//! are cores (and more when one process's 20,000 file descriptors are not enough).

use std::cell::RefCell;
use std::io::Write;
use std::net::SocketAddrV4;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::clock::now_micros;
use crate::error::BenchError;
use crate::protocol::{Command, Job, Message, Progress, Report, Role};
use crate::slow_head;
use crate::subscriber::{self, Conn, Spec, State, Totals};
use crate::tracker::{Sent, Tracker};

/// Pause before retrying a connection that failed to open, times the attempt number.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Runs a worker on this process's stdin and stdout until it is told to stop (or its
/// coordinator goes away).
pub fn run_stdio() -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(BenchError::io("starting the worker's runtime"))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, serve())
}

async fn serve() -> Result<(), BenchError> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let Some(first) = next_line(&mut lines).await? else {
        return Ok(());
    };
    let job: Job = serde_json::from_str(&first).map_err(BenchError::json("reading the job"))?;
    let worker = Rc::new(Worker::new(job));
    tokio::task::spawn_local(Rc::clone(&worker).connect_all());
    tokio::task::spawn_local(Rc::clone(&worker).report_progress());
    // The one command there is: `Stop`. End of input means the coordinator is gone.
    let Some(line) = next_line(&mut lines).await? else {
        return Ok(());
    };
    let Command::Stop { sent } =
        serde_json::from_str(&line).map_err(BenchError::json("reading a command"))?;
    emit(&Message::Report(Box::new(worker.report(&sent))))
}

async fn next_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::io::Stdin>>,
) -> Result<Option<String>, BenchError> {
    lines
        .next_line()
        .await
        .map_err(BenchError::io("reading the coordinator's commands"))
}

fn emit(message: &Message) -> Result<(), BenchError> {
    let mut line = serde_json::to_vec(message).map_err(BenchError::json("writing a message"))?;
    line.push(b'\n');
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&line)
        .and_then(|()| stdout.flush())
        .map_err(BenchError::io("writing to the coordinator"))
}

#[derive(Debug)]
struct Worker {
    job: Job,
    conns: Vec<Rc<RefCell<Conn>>>,
    totals: RefCell<Totals>,
}

impl Worker {
    fn new(job: Job) -> Self {
        let conns = (0..job.connections)
            .map(|i| {
                Rc::new(RefCell::new(Conn {
                    state: State::Opening,
                    stalled: job.stalls(job.first + i),
                    tracker: Tracker::default(),
                }))
            })
            .collect();
        let totals = Totals {
            base_second: now_micros() / 1_000_000,
            ..Totals::default()
        };
        Self {
            job,
            conns,
            totals: RefCell::new(totals),
        }
    }

    /// Opens every connection, at the job's rate and concurrency.
    async fn connect_all(self: Rc<Self>) {
        let (request, server) = match (
            self.job.target.subscribe_request(),
            self.job.target.subscribe_url(),
        ) {
            (Ok(request), Ok(url)) => (Rc::<[u8]>::from(request), url.addr),
            (Err(e), _) | (_, Err(e)) => {
                self.totals.borrow_mut().note_error(e.to_string());
                for conn in &self.conns {
                    conn.borrow_mut().state = State::Failed;
                }
                return;
            }
        };
        let permits = Arc::new(Semaphore::new(self.job.connect_in_flight.max(1)));
        let period = (self.job.connect_rate > 0.0)
            .then(|| Duration::from_secs_f64(1.0 / self.job.connect_rate));
        let mut next = Instant::now();
        for i in 0..self.conns.len() {
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                return;
            };
            if let Some(period) = period {
                tokio::time::sleep_until(next).await;
                next = next.max(Instant::now() - period) + period;
            }
            let global = self.job.first + i;
            let stalled = self.conns[i].borrow().stalled;
            let spec = Spec {
                server,
                source: SocketAddrV4::new(self.job.source(global), 0),
                request: Rc::clone(&request),
                recv_buffer: stalled.then_some(self.job.stall_recv_buffer),
            };
            tokio::task::spawn_local(Rc::clone(&self).connection(i, spec, permit));
        }
    }

    async fn connection(self: Rc<Self>, i: usize, spec: Spec, permit: OwnedSemaphorePermit) {
        match self.job.role {
            Role::Subscriber => self.subscribe(i, spec, permit).await,
            Role::SlowHead => self.slow_head(i, spec, permit).await,
        }
    }

    /// Holds a request head open, never finished, until the server closes it.
    async fn slow_head(&self, i: usize, spec: Spec, permit: OwnedSemaphorePermit) {
        let conn = &self.conns[i];
        let stream = match slow_head::open(&spec).await {
            Ok(stream) => stream,
            Err(e) => {
                self.totals.borrow_mut().note_error(e.to_string());
                conn.borrow_mut().state = State::Failed;
                return;
            }
        };
        drop(permit);
        conn.borrow_mut().state = State::Open;
        slow_head::hold(stream).await;
        conn.borrow_mut().state = State::Closed;
    }

    async fn subscribe(&self, i: usize, spec: Spec, permit: OwnedSemaphorePermit) {
        let conn = &self.conns[i];
        let mut attempt = 0;
        let opened = loop {
            match subscriber::open(&spec).await {
                Ok(opened) => break opened,
                Err(e) if attempt < self.job.retries => {
                    attempt += 1;
                    self.totals
                        .borrow_mut()
                        .note_error(format!("(retried) {e}"));
                    tokio::time::sleep(RETRY_PAUSE * attempt).await;
                }
                Err(e) => {
                    self.totals.borrow_mut().note_error(e.to_string());
                    conn.borrow_mut().state = State::Failed;
                    return;
                }
            }
        };
        drop(permit);
        let stalled = {
            let mut conn = conn.borrow_mut();
            conn.state = State::Open;
            conn.stalled
        };
        if stalled {
            // Hold the socket open and never read it.
            let _held = opened;
            std::future::pending::<()>().await;
        } else {
            subscriber::read(opened, conn, &self.totals).await;
        }
    }

    async fn report_progress(self: Rc<Self>) {
        let period = Duration::from_millis(self.job.progress_ms.max(5));
        loop {
            tokio::time::sleep(period).await;
            if emit(&Message::Progress(self.progress())).is_err() {
                return;
            }
        }
    }

    fn progress(&self) -> Progress {
        let mut progress = Progress {
            delivered: self.totals.borrow().delivered,
            ..Progress::default()
        };
        for conn in &self.conns {
            let conn = conn.borrow();
            match conn.state {
                State::Opening => {}
                State::Failed => progress.failed += 1,
                State::Closed => {
                    progress.connected += 1;
                    progress.closed += 1;
                }
                State::Open => {
                    progress.connected += 1;
                    if conn.stalled {
                        progress.stalled += 1;
                    } else {
                        let unique = conn.tracker.unique;
                        progress.min_delivered =
                            Some(progress.min_delivered.map_or(unique, |m| m.min(unique)));
                    }
                }
            }
        }
        progress
    }

    fn report(&self, sent: &[Sent]) -> Report {
        let mut report = Report {
            progress: self.progress(),
            ..Report::default()
        };
        for conn in &self.conns {
            let conn = conn.borrow();
            if conn.stalled || !matches!(conn.state, State::Open | State::Closed) {
                continue;
            }
            let missing = conn.tracker.missing(sent);
            report.lost += missing.lost;
            report.late += missing.late;
            report.duplicates += conn.tracker.duplicates;
            report.out_of_order += conn.tracker.out_of_order;
            report.foreign += conn.tracker.foreign;
        }
        let totals = self.totals.borrow();
        report.untokened = totals.untokened;
        report.latency = totals.latency.to_pairs();
        report.first_delivery_micros = totals.first_delivery;
        report.last_delivery_micros = totals.last_delivery;
        report.per_second = totals
            .per_second
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, &n)| (totals.base_second + i as u64, n))
            .collect();
        report.bytes = totals.bytes;
        report.errors.clone_from(&totals.errors);
        report
    }
}
