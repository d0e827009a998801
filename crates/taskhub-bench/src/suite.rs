//! The side-by-side run: every scenario, every server in turn (each server's steps back to
//! back), a fresh server for each measurement; the results, the machine and the versions
//! in one document.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::machine::{self, Machine};
use crate::progress::ProgressLine;
use crate::run::{self, Outcome};
use crate::scenario::{self, Name, Scenario, Size};
use crate::server::{self, ServerSetup};
use crate::target::{Kind, PresenceMode};

/// Pause between two measurements, for sockets to close and the machine to settle.
const COOL_DOWN: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    pub servers: Vec<Kind>,
    pub scenarios: Vec<Name>,
    pub size: Size,
    pub setup: ServerSetup,
    /// This binary, run as the subscriber workers.
    pub exe: PathBuf,
    /// The command line, for the record.
    pub command: String,
    pub quiet: bool,
    /// TaskHub's streams filtered on the events' topic, present on it or not.
    pub presence: Option<PresenceMode>,
}

/// One server's measurement of one step (or why there is none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    pub server: Kind,
    pub step: String,
    pub outcome: Option<Outcome>,
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: Name,
    pub title: String,
    pub runs: Vec<RunResult>,
}

impl ScenarioResult {
    /// The outcome of `server` at `step`, if it ran.
    pub fn outcome(&self, server: Kind, step: &str) -> Option<&Outcome> {
        self.runs
            .iter()
            .find(|r| r.server == server && r.step == step)
            .and_then(|r| r.outcome.as_ref())
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteResult {
    pub machine: Machine,
    pub versions: Vec<(Kind, String)>,
    pub command: String,
    pub scale: f64,
    pub time_scale: f64,
    pub started_unix: u64,
    pub scenarios: Vec<ScenarioResult>,
}

impl SuiteResult {
    pub fn scenario(&self, name: Name) -> Option<&ScenarioResult> {
        self.scenarios.iter().find(|s| s.name == name)
    }
}

/// Runs the suite.
pub async fn run(config: &SuiteConfig) -> SuiteResult {
    let mut result = SuiteResult {
        machine: Machine::describe(),
        versions: config
            .servers
            .iter()
            .map(|&k| (k, machine::version(k, &config.setup)))
            .collect(),
        command: config.command.clone(),
        scale: config.size.scale,
        time_scale: config.size.time_scale,
        started_unix: crate::clock::now_micros() / 1_000_000,
        scenarios: Vec::new(),
    };
    let mut run_index: u8 = 0;
    for &name in &config.scenarios {
        let scenario = Scenario::build(name, config.size);
        let mut runs = Vec::new();
        // A server's steps run back to back (its `stall` without, then with, stalled
        // subscribers), so that the two halves of a comparison are minutes closer.
        for &kind in &config.servers {
            for step in &scenario.steps {
                run_index = run_index % 250 + 1;
                let mut line = ProgressLine::new(
                    format!("[{name}{}{} {kind}]", sep(step.label), step.label),
                    config.quiet,
                );
                let result = measure_one(config, kind, step, run_index, &mut line).await;
                line.finish(&result_line(&result));
                runs.push(result);
                tokio::time::sleep(COOL_DOWN).await;
            }
        }
        result.scenarios.push(ScenarioResult {
            name,
            title: scenario.title.clone(),
            runs,
        });
    }
    result
}

async fn measure_one(
    config: &SuiteConfig,
    kind: Kind,
    step: &scenario::Step,
    run_index: u8,
    line: &mut ProgressLine,
) -> RunResult {
    let skipped = |reason: String| RunResult {
        server: kind,
        step: step.label.to_owned(),
        outcome: None,
        skipped: Some(reason),
    };
    if let Some(plan) = &step.spec.publish
        && plan.batch > kind.max_batch()
    {
        return skipped(format!("{kind} has no batch publish call"));
    }
    line.update("starting a fresh server", None);
    let running = match server::start(kind, &config.setup).await {
        Ok(running) => running,
        Err(e) => return skipped(e.to_string()),
    };
    let (rate, in_flight) = scenario::connect_pace(kind);
    let mut spec = step.spec.clone();
    spec.connect_rate = spec.connect_rate.min(rate);
    spec.connect_in_flight = spec.connect_in_flight.min(in_flight);
    spec.source_net = run_index;
    let pids = || running.pids();
    let target = running.target.clone().with_presence(config.presence);
    let measured = run::measure(&config.exe, &target, &pids, &spec, line).await;
    line.update("stopping the server", None);
    running.stop().await;
    match measured {
        Ok(outcome) => RunResult {
            server: kind,
            step: step.label.to_owned(),
            outcome: Some(outcome),
            skipped: None,
        },
        Err(e) => skipped(format!("measurement failed: {e}")),
    }
}

fn sep(label: &str) -> &'static str {
    if label.is_empty() { "" } else { " " }
}

/// The one-line summary printed when a measurement ends.
fn result_line(result: &RunResult) -> String {
    match (&result.outcome, &result.skipped) {
        (Some(o), _) if o.published > 0 && o.subscribers > 0 => format!(
            "{}/{} connected, {} delivered ({:.0}/s), lost {} late {} dup {} reordered {}, p99 {:.1} ms, {:.2} µs CPU/delivery",
            o.connected,
            o.subscribers,
            o.delivered,
            o.deliveries_per_sec,
            o.lost,
            o.late,
            o.duplicates,
            o.out_of_order,
            o.latency.p99_ms,
            o.cpu_us_per_event
        ),
        (Some(o), _) if o.subscribers == 0 => format!(
            "{} events acknowledged ({:.0}/s), {} failed requests",
            o.published, o.publish_per_sec, o.publish_failures
        ),
        (Some(o), _) => format!(
            "{}/{} connected, RSS {:.1} MiB ({:.0} B/connection)",
            o.connected,
            o.subscribers,
            o.rss_loaded_kib as f64 / 1024.0,
            o.rss_per_conn_bytes
        ),
        (None, Some(reason)) => format!("skipped: {reason}"),
        (None, None) => "no result".into(),
    }
}
