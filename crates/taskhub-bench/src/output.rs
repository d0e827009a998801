//! Where a suite's results go: the tables, the JSON document and the plot, to files and
//! to stdout.

use std::path::{Path, PathBuf};

use crate::error::BenchError;
use crate::plot;
use crate::report;
use crate::suite::SuiteResult;

/// Which files to write, and what to print.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub markdown: Option<PathBuf>,
    pub plot: Option<PathBuf>,
    pub json: Option<PathBuf>,
    /// Print the JSON document on stdout instead of the tables.
    pub json_on_stdout: bool,
}

/// Writes the requested files, then prints the tables (or the JSON).
pub fn emit(result: &SuiteResult, outputs: &Outputs) -> Result<(), BenchError> {
    let tables = report::markdown(result);
    let json =
        serde_json::to_string_pretty(result).map_err(BenchError::json("encoding the results"))?;
    if let Some(path) = &outputs.markdown {
        write(path, &tables)?;
    }
    if let Some(path) = &outputs.plot {
        match plot::latency_svg(result) {
            Some(svg) => write(path, &svg)?,
            None => eprintln!("no latencies measured: no plot written"),
        }
    }
    if let Some(path) = &outputs.json {
        write(path, &json)?;
    }
    if outputs.json_on_stdout {
        println!("{json}");
    } else {
        println!("{tables}");
    }
    Ok(())
}

fn write(path: &Path, contents: &str) -> Result<(), BenchError> {
    std::fs::write(path, contents).map_err(BenchError::io(format!("writing {}", path.display())))
}
