//! The progress bar on stderr: one line redrawn in place on a terminal, a plain line
//! every few seconds otherwise (logs, CI).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use tokio::time::Instant;

/// Seconds between lines when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// One task's progress line.
#[derive(Debug)]
pub struct ProgressLine {
    label: String,
    tty: bool,
    quiet: bool,
    last_plain: Option<Instant>,
}

impl ProgressLine {
    pub fn new(label: impl Into<String>, quiet: bool) -> Self {
        Self {
            label: label.into(),
            tty: std::io::stderr().is_terminal(),
            quiet,
            last_plain: None,
        }
    }

    /// Shows `status`, with a bar when `fraction` (0..=1) is given.
    pub fn update(&mut self, status: &str, fraction: Option<f64>) {
        if self.quiet {
            return;
        }
        let bar = fraction.map(bar).unwrap_or_default();
        if self.tty {
            eprint!("\r\x1b[2K{} {bar} {status}", self.label);
            let _ = std::io::stderr().flush();
        } else if self.last_plain.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) {
            self.last_plain = Some(Instant::now());
            eprintln!("{} {bar} {status}", self.label);
        }
    }

    /// Ends the line with a final status.
    pub fn finish(&mut self, status: &str) {
        if self.quiet {
            return;
        }
        if self.tty {
            eprintln!("\r\x1b[2K{} {status}", self.label);
        } else {
            eprintln!("{} {status}", self.label);
        }
    }
}

/// `[#####.....]` for a fraction.
fn bar(fraction: f64) -> String {
    const WIDTH: usize = 24;
    let filled = ((fraction.clamp(0.0, 1.0) * WIDTH as f64).round() as usize).min(WIDTH);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(WIDTH - filled))
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_bars() {
        assert_eq!(super::bar(0.5), "[############............]");
        assert_eq!(super::bar(7.0), format!("[{}]", "#".repeat(24)));
    }
}
