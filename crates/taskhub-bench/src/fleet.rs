//! The coordinator's side of the subscribers: spawns `taskhub-bench worker` processes
//! (this same binary), gives each its share of the connections, follows their progress
//! and merges their reports.
//!
//! Workers exist for two limits: one process has at most 20,000 open files here, and a
//! single-threaded reader per core is cheaper than a shared runtime. Each connection's
//! source address is `127.0.0.1` for the first `per_source` connections, then
//! `127.0.0.2`, …: one source address has only about 28,000 ephemeral ports.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{oneshot, watch};

use crate::error::BenchError;
use crate::latency::Latency;
use crate::protocol::{self, Job, Message, Progress, Report, Role};
use crate::target::Target;
use crate::tracker::Sent;

/// Most connections one worker process is given.
pub const MAX_PER_WORKER: usize = 15_000;

/// How the subscribers are opened.
#[derive(Debug, Clone)]
pub struct FleetPlan {
    pub target: Target,
    pub role: Role,
    pub subscribers: usize,
    /// Worker processes (raised to fit `MAX_PER_WORKER`).
    pub workers: usize,
    pub per_source: usize,
    /// Source addresses are `127.0.<source_net>.1`, `.2`, …: a run on a fresh
    /// `source_net` never meets the previous run's ports in TIME_WAIT.
    pub source_net: u8,
    /// New connections per second, all workers together.
    pub connect_rate: f64,
    /// Connection attempts in flight, all workers together.
    pub connect_in_flight: usize,
    pub retries: u32,
    pub stall_fraction: f64,
    pub stall_recv_buffer: u32,
    pub progress_ms: u64,
}

impl FleetPlan {
    /// The jobs, one per worker.
    pub fn jobs(&self) -> Vec<Job> {
        let workers = self
            .workers
            .max(self.subscribers.div_ceil(MAX_PER_WORKER))
            .clamp(1, self.subscribers.max(1));
        let per_source = self.per_source.max(1);
        let sources = (0..self.subscribers.div_ceil(per_source).max(1))
            .map(|k| {
                let host = u8::try_from(k + 1).unwrap_or(u8::MAX);
                Ipv4Addr::new(127, 0, self.source_net, host)
            })
            .collect::<Vec<_>>();
        let base = self.subscribers / workers;
        let extra = self.subscribers % workers;
        let mut first = 0;
        (0..workers)
            .map(|w| {
                let connections = base + usize::from(w < extra);
                let job = Job {
                    target: self.target.clone(),
                    role: self.role,
                    first,
                    connections,
                    sources: sources.clone(),
                    per_source,
                    connect_rate: self.connect_rate / workers as f64,
                    connect_in_flight: (self.connect_in_flight / workers).max(1),
                    retries: self.retries,
                    stall_fraction: self.stall_fraction,
                    stall_recv_buffer: self.stall_recv_buffer,
                    progress_ms: self.progress_ms,
                };
                first += connections;
                job
            })
            .collect()
    }
}

#[derive(Debug)]
struct Handle {
    child: Child,
    stdin: ChildStdin,
    report: oneshot::Receiver<Result<Report, BenchError>>,
}

#[derive(Debug)]
struct Shared {
    progress: Mutex<Vec<Progress>>,
    min_delivered: watch::Sender<Option<u64>>,
}

/// Running worker processes.
#[derive(Debug)]
pub struct Fleet {
    workers: Vec<Handle>,
    shared: Arc<Shared>,
}

impl Fleet {
    /// Starts one worker per job, running `exe worker`.
    pub async fn spawn(exe: &Path, plan: &FleetPlan) -> Result<Self, BenchError> {
        let jobs = plan.jobs();
        let shared = Arc::new(Shared {
            progress: Mutex::new(vec![Progress::default(); jobs.len()]),
            min_delivered: watch::Sender::new(None),
        });
        let mut workers = Vec::with_capacity(jobs.len());
        for (index, job) in jobs.iter().enumerate() {
            // A worker may hold up to MAX_PER_WORKER sockets: raise its soft limit.
            let mut child = Command::new("sh")
                .arg("-c")
                .arg("ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$0\" worker")
                .arg(exe)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .map_err(BenchError::io(format!("starting worker {}", exe.display())))?;
            let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                return Err(BenchError::Worker("worker pipes missing".into()));
            };
            let mut line = serde_json::to_vec(job).map_err(BenchError::json("sending a job"))?;
            line.push(b'\n');
            stdin
                .write_all(&line)
                .await
                .map_err(BenchError::io("sending a job to a worker"))?;
            let (report_tx, report) = oneshot::channel();
            tokio::spawn(follow(index, stdout, Arc::clone(&shared), report_tx));
            workers.push(Handle {
                child,
                stdin,
                report,
            });
        }
        Ok(Self { workers, shared })
    }

    /// The worker processes' ids (for their CPU time).
    pub fn pids(&self) -> Vec<u32> {
        self.workers.iter().filter_map(|w| w.child.id()).collect()
    }

    /// All workers' counters together.
    pub fn progress(&self) -> Progress {
        let all = self
            .shared
            .progress
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default();
        merge_progress(&all)
    }

    /// The fewest events any reading subscriber has, updated with each progress line.
    pub fn min_delivered(&self) -> watch::Receiver<Option<u64>> {
        self.shared.min_delivered.subscribe()
    }

    /// Tells every worker what was sent, and merges their reports.
    pub async fn stop(self, sent: &[Sent], timeout: Duration) -> Result<Report, BenchError> {
        let mut line = serde_json::to_vec(&protocol::Command::Stop {
            sent: sent.to_vec(),
        })
        .map_err(BenchError::json("sending stop"))?;
        line.push(b'\n');
        let mut reports = Vec::with_capacity(self.workers.len());
        let mut pending = Vec::with_capacity(self.workers.len());
        for mut worker in self.workers {
            worker
                .stdin
                .write_all(&line)
                .await
                .map_err(BenchError::io("sending stop to a worker"))?;
            pending.push(worker);
        }
        for mut worker in pending {
            let report = tokio::time::timeout(timeout, &mut worker.report)
                .await
                .map_err(|_| BenchError::Timeout {
                    secs: timeout.as_secs_f64(),
                    what: "waiting for a worker's report".into(),
                })?
                .map_err(|_| BenchError::Worker("a worker ended without a report".into()))??;
            reports.push(report);
            let _ = tokio::time::timeout(Duration::from_secs(5), worker.child.wait()).await;
        }
        Ok(merge_reports(reports))
    }
}

/// Reads one worker's messages until its report.
async fn follow(
    index: usize,
    stdout: ChildStdout,
    shared: Arc<Shared>,
    report: oneshot::Sender<Result<Report, BenchError>>,
) {
    let mut lines = BufReader::new(stdout).lines();
    let outcome = loop {
        match lines.next_line().await {
            Ok(Some(line)) => match serde_json::from_str::<Message>(&line) {
                Ok(Message::Progress(progress)) => {
                    let min = {
                        let Ok(mut all) = shared.progress.lock() else {
                            break Err(BenchError::Worker("progress lock poisoned".into()));
                        };
                        all[index] = progress;
                        merge_progress(&all).min_delivered
                    };
                    shared.min_delivered.send_replace(min);
                }
                Ok(Message::Report(r)) => break Ok(*r),
                Err(e) => {
                    break Err(BenchError::Worker(format!(
                        "worker {index} said {line:?}: {e}"
                    )));
                }
            },
            Ok(None) => {
                break Err(BenchError::Worker(format!(
                    "worker {index} exited without a report"
                )));
            }
            Err(e) => break Err(BenchError::io(format!("reading worker {index}"))(e)),
        }
    };
    let _ = report.send(outcome);
}

fn merge_progress(all: &[Progress]) -> Progress {
    all.iter().fold(Progress::default(), |acc, p| Progress {
        connected: acc.connected + p.connected,
        stalled: acc.stalled + p.stalled,
        failed: acc.failed + p.failed,
        closed: acc.closed + p.closed,
        delivered: acc.delivered + p.delivered,
        min_delivered: match (acc.min_delivered, p.min_delivered) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        },
    })
}

/// One report for the whole fleet.
pub fn merge_reports(reports: Vec<Report>) -> Report {
    let progress: Vec<Progress> = reports.iter().map(|r| r.progress).collect();
    let mut latency = Latency::default();
    let mut per_second = std::collections::BTreeMap::<u64, u64>::new();
    let mut merged = Report {
        progress: merge_progress(&progress),
        ..Report::default()
    };
    for r in reports {
        merged.duplicates += r.duplicates;
        merged.out_of_order += r.out_of_order;
        merged.lost += r.lost;
        merged.late += r.late;
        merged.untokened += r.untokened;
        merged.foreign += r.foreign;
        merged.bytes += r.bytes;
        latency.merge(&Latency::from_pairs(&r.latency));
        if r.first_delivery_micros > 0 {
            merged.first_delivery_micros = match merged.first_delivery_micros {
                0 => r.first_delivery_micros,
                t => t.min(r.first_delivery_micros),
            };
        }
        merged.last_delivery_micros = merged.last_delivery_micros.max(r.last_delivery_micros);
        for (second, n) in r.per_second {
            *per_second.entry(second).or_default() += n;
        }
        for e in r.errors {
            if merged.errors.len() < 8 && !merged.errors.contains(&e) {
                merged.errors.push(e);
            }
        }
    }
    merged.latency = latency.to_pairs();
    merged.per_second = per_second.into_iter().collect();
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Kind;

    #[test]
    fn splits_connections_over_workers_and_sources() {
        let plan = FleetPlan {
            target: Target::local(Kind::Taskhub, 1),
            role: Role::Subscriber,
            subscribers: 40_001,
            workers: 2,
            per_source: 25_000,
            source_net: 0,
            connect_rate: 3000.0,
            connect_in_flight: 300,
            retries: 0,
            stall_fraction: 0.0,
            stall_recv_buffer: 4096,
            progress_ms: 100,
        };
        let jobs = plan.jobs();
        assert_eq!(jobs.len(), 3, "15,000 per worker at most");
        assert_eq!(jobs.iter().map(|j| j.connections).sum::<usize>(), 40_001);
        assert_eq!(jobs[1].first, jobs[0].connections);
        assert_eq!(jobs[0].sources.len(), 2);
        assert_eq!(jobs[2].source(40_000), Ipv4Addr::new(127, 0, 0, 2));
        assert!((jobs[0].connect_rate - 1000.0).abs() < 1e-9);
    }
}
