//! `taskhub-bench load`: one measurement against a server that is already running (any
//! server whose protocol [`crate::Kind`] names), with its processes read from `/proc`
//! when their ids are given.

use std::path::PathBuf;

use crate::error::BenchError;
use crate::procfs;
use crate::progress::ProgressLine;
use crate::report;
use crate::run::{self, Outcome, RunSpec};
use crate::target::Target;

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub target: Target,
    pub spec: RunSpec,
    /// The server's processes (their descendants are added); empty: no CPU or memory.
    pub pids: Vec<u32>,
    /// This binary, run as the subscriber workers.
    pub exe: PathBuf,
    pub quiet: bool,
}

pub async fn run(config: &LoadConfig) -> Result<Outcome, BenchError> {
    let roots = config.pids.clone();
    let pids = move || procfs::family(&roots);
    let mut line = ProgressLine::new(format!("[{}]", config.target.kind), config.quiet);
    let outcome = run::measure(&config.exe, &config.target, &pids, &config.spec, &mut line).await?;
    line.finish("done");
    Ok(outcome)
}

/// Prints the outcome: its table and what went wrong, or the JSON document.
pub fn emit(config: &LoadConfig, outcome: &Outcome, json: bool) -> Result<(), BenchError> {
    if json {
        let text = serde_json::to_string_pretty(outcome)
            .map_err(BenchError::json("encoding the results"))?;
        println!("{text}");
        return Ok(());
    }
    println!("{}", table(config, outcome));
    for e in &outcome.errors {
        println!("client saw: {e}");
    }
    if let Some(e) = &outcome.publish_error {
        println!("publish error: {e}");
    }
    Ok(())
}

/// The table that fits the run: deliveries, connections held, or publishes.
pub fn table(config: &LoadConfig, outcome: &Outcome) -> String {
    let rows = [(config.target.kind.to_string(), outcome)];
    match (&config.spec.publish, config.spec.subscribers) {
        (Some(_), 0) => report::publish_table(&rows),
        (Some(_), _) => report::delivery_table(&rows),
        (None, _) => report::idle_table(&rows),
    }
}
