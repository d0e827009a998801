//! The tables (Markdown, readable in a terminal too) and the verdict on each bar of
//! issue 4.

use std::fmt::Write;

use crate::run::Outcome;
use crate::scenario::Name;
use crate::suite::{RunResult, ScenarioResult, SuiteResult};
use crate::target::Kind;

/// One bar of the issue and what this run measured for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub name: &'static str,
    pub wanted: String,
    pub measured: String,
    /// `None` when this run could not decide (a server or scenario missing).
    pub reached: Option<bool>,
}

/// The tables of every scenario, then the bars.
pub fn markdown(result: &SuiteResult) -> String {
    let mut out = String::new();
    for scenario in &result.scenarios {
        let _ = writeln!(out, "### `{}`: {}\n", scenario.name, scenario.title);
        out.push_str(&scenario_table(scenario));
        out.push('\n');
        for run in &scenario.runs {
            if let Some(reason) = &run.skipped {
                let _ = writeln!(out, "- {} {}: skipped: {reason}", run.server, run.step);
            }
            if let Some(o) = &run.outcome {
                let _ = writeln!(
                    out,
                    "- {} {}: machine load average {:.1} before, {:.1} after",
                    run.server, run.step, o.load_before, o.load_after
                );
                for e in &o.errors {
                    let _ = writeln!(out, "- {} {}: client saw: {e}", run.server, run.step);
                }
                if let Some(e) = &o.publish_error {
                    let _ = writeln!(out, "- {} {}: publish error: {e}", run.server, run.step);
                }
            }
        }
        out.push('\n');
    }
    out.push_str("### Bars\n\n");
    out.push_str(&bars_table(&bars(result)));
    out
}

fn scenario_table(scenario: &ScenarioResult) -> String {
    let rows: Vec<(String, &Outcome)> = scenario
        .runs
        .iter()
        .filter_map(|r| r.outcome.as_ref().map(|o| (label(r), o)))
        .collect();
    match scenario.name {
        Name::Fanout | Name::Burst | Name::Stall => delivery_table(&rows),
        Name::Idle => idle_table(&rows),
        Name::Publish => publish_table(&rows),
    }
}

fn label(run: &RunResult) -> String {
    if run.step.is_empty() {
        run.server.to_string()
    } else {
        format!("{} ({})", run.server, run.step)
    }
}

/// Subscribers, deliveries, correctness, latency and cost.
pub fn delivery_table(rows: &[(String, &Outcome)]) -> String {
    let mut out = String::from(
        "| server | connected | published | delivered | lost | late | dup | reordered | deliveries/s | slowest 1 s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | server CPU s | CPU µs/delivery | load generator CPU s | RSS MiB (peak) |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (label, o) in rows {
        let stalled = if o.stalled > 0 {
            format!(" ({} stalled)", o.stalled)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {label} | {}/{}{stalled} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.2} | {:.1} | {:.0} ({:.0}) |",
            o.connected,
            o.subscribers,
            int(o.published),
            int(o.delivered),
            int(o.lost),
            int(o.late),
            int(o.duplicates),
            int(o.out_of_order),
            int(o.deliveries_per_sec as u64),
            int(o.min_deliveries_per_sec as u64),
            ms(o.latency.p50_ms),
            ms(o.latency.p90_ms),
            ms(o.latency.p99_ms),
            ms(o.latency.p999_ms),
            ms(o.latency.max_ms),
            o.server_cpu_secs,
            o.cpu_us_per_event,
            o.client_cpu_secs,
            mib(o.rss_loaded_kib),
            mib(o.rss_peak_kib),
        );
    }
    out
}

/// Connections held and what they cost in memory.
pub fn idle_table(rows: &[(String, &Outcome)]) -> String {
    let mut out = String::from(
        "| server | connected | failed | processes | RSS idle MiB | RSS loaded MiB | RSS per connection |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for (label, o) in rows {
        let _ = writeln!(
            out,
            "| {label} | {}/{} | {} | {} | {:.1} | {:.1} | {:.2} KiB |",
            int(o.connected as u64),
            int(o.subscribers as u64),
            int(o.failed as u64),
            o.server_processes,
            mib(o.rss_idle_kib),
            mib(o.rss_loaded_kib),
            o.rss_per_conn_bytes / 1024.0,
        );
    }
    out
}

/// Publish throughput.
pub fn publish_table(rows: &[(String, &Outcome)]) -> String {
    let mut out = String::from(
        "| server | publishers | events/request | acknowledged events | events/s | requests/s | failed requests | ack p50 ms | ack p99 ms | server CPU µs/event |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (label, o) in rows {
        let requests_per_sec = o.publish_per_sec / o.batch.max(1) as f64;
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            o.publishers,
            o.batch,
            int(o.published),
            int(o.publish_per_sec as u64),
            int(requests_per_sec as u64),
            int(o.publish_failures),
            ms(o.ack.p50_ms),
            ms(o.ack.p99_ms),
            o.cpu_us_per_event,
        );
    }
    out
}

fn bars_table(bars: &[Bar]) -> String {
    let mut out = String::from("| bar | wanted | measured | reached |\n|---|---|---|---|\n");
    for bar in bars {
        let verdict = match bar.reached {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not measured",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {verdict} |",
            bar.name, bar.wanted, bar.measured
        );
    }
    out
}

/// Judges every bar of the issue on this run's numbers.
pub fn bars(result: &SuiteResult) -> Vec<Bar> {
    let get = |name, kind, step: &str| result.scenario(name).and_then(|s| s.outcome(kind, step));
    let mut bars = Vec::new();
    let th = |name| get(name, Kind::Taskhub, "");

    let fanout = th(Name::Fanout);
    bars.push(Bar {
        name: "fanout: deliveries/s",
        wanted: "≥ 1,000,000 sustained".into(),
        measured: fanout.map_or("-".into(), |o| {
            format!(
                "{} (slowest second {})",
                int(o.deliveries_per_sec as u64),
                int(o.min_deliveries_per_sec as u64)
            )
        }),
        reached: fanout.map(|o| o.deliveries_per_sec >= 1e6 && o.min_deliveries_per_sec >= 1e6),
    });
    bars.push(Bar {
        name: "fanout: zero loss",
        wanted: "every subscriber connected, 0 lost, 0 late, 0 duplicated".into(),
        measured: fanout.map_or("-".into(), |o| {
            format!(
                "{}/{} connected, {} lost, {} late, {} dup",
                o.connected, o.subscribers, o.lost, o.late, o.duplicates
            )
        }),
        reached: fanout.map(|o| {
            o.connected == o.subscribers && o.lost + o.late + o.duplicates == 0 && o.delivered > 0
        }),
    });
    bars.push(Bar {
        name: "fanout: p99",
        wanted: "≤ 100 ms".into(),
        measured: fanout.map_or("-".into(), |o| format!("{} ms", ms(o.latency.p99_ms))),
        reached: fanout.map(|o| o.delivered > 0 && o.latency.p99_ms <= 100.0),
    });

    let burst = |kind| get(Name::Burst, kind, "");
    let per_sec = |o: &Outcome| o.deliveries_per_sec.round();
    let cpu = |o: &Outcome| o.cpu_us_per_event;
    let ours = burst(Kind::Taskhub);
    bars.push(ratio_bar(
        "burst: deliveries/s vs nchan",
        "≥ 6×",
        (ours, burst(Kind::Nchan)),
        (per_sec, "/s"),
        |r| r >= 6.0,
    ));
    bars.push(ratio_bar(
        "burst: CPU per delivery vs nchan",
        "≤ 0.2×",
        (ours, burst(Kind::Nchan)),
        (cpu, " µs"),
        |r| r <= 0.2,
    ));
    bars.push(ratio_bar(
        "burst: deliveries/s vs the seed",
        "≥ 100×",
        (ours, burst(Kind::Seed)),
        (per_sec, "/s"),
        |r| r >= 100.0,
    ));

    let idle = th(Name::Idle);
    bars.push(Bar {
        name: "idle: all connected",
        wanted: "all of them".into(),
        measured: idle.map_or("-".into(), |o| {
            format!(
                "{} of {}",
                int(o.connected as u64),
                int(o.subscribers as u64)
            )
        }),
        reached: idle.map(|o| o.connected == o.subscribers && o.closed_early == 0),
    });
    bars.push(Bar {
        name: "idle: RSS per connection",
        wanted: "≤ 4 KiB".into(),
        measured: idle.map_or("-".into(), |o| {
            format!("{:.2} KiB", o.rss_per_conn_bytes / 1024.0)
        }),
        reached: idle.map(|o| o.connected > 0 && o.rss_per_conn_bytes <= 4096.0),
    });

    let base = get(Name::Stall, Kind::Taskhub, "all read");
    let stalled = get(Name::Stall, Kind::Taskhub, "10% stalled");
    let p99_change = match (base, stalled) {
        (Some(b), Some(s)) if b.latency.p99_ms > 0.0 => {
            Some((s.latency.p99_ms - b.latency.p99_ms) / b.latency.p99_ms)
        }
        _ => None,
    };
    bars.push(Bar {
        name: "stall: readers' p99 change",
        wanted: "< 10%".into(),
        measured: match (base, stalled, p99_change) {
            (Some(b), Some(s), Some(c)) => format!(
                "{} ms → {} ms ({:+.1}%)",
                ms(b.latency.p99_ms),
                ms(s.latency.p99_ms),
                c * 100.0
            ),
            _ => "-".into(),
        },
        reached: p99_change.map(|c| c.abs() < 0.10),
    });
    let growth = |o: &Outcome| o.rss_peak_kib.saturating_sub(o.rss_loaded_kib);
    bars.push(Bar {
        name: "stall: memory bounded",
        wanted: "peak growth ≤ 2× the all-read run's + 16 MiB".into(),
        measured: match (base, stalled) {
            (Some(b), Some(s)) => format!(
                "growth {:.1} MiB (all read: {:.1} MiB)",
                mib(growth(s)),
                mib(growth(b))
            ),
            _ => "-".into(),
        },
        reached: match (base, stalled) {
            (Some(b), Some(s)) => Some(growth(s) <= 2 * growth(b) + 16 * 1024),
            _ => None,
        },
    });

    let single = get(Name::Publish, Kind::Taskhub, "single");
    bars.push(Bar {
        name: "publish: single events",
        wanted: "≥ 5,000 acknowledged/s".into(),
        measured: single.map_or("-".into(), |o| {
            format!("{}/s", int(o.publish_per_sec as u64))
        }),
        reached: single.map(|o| o.publish_per_sec >= 5000.0),
    });
    let batch = get(Name::Publish, Kind::Taskhub, "batch of 100");
    bars.push(Bar {
        name: "publish: batches",
        wanted: "≥ 20,000 events/s".into(),
        measured: batch.map_or("-".into(), |o| {
            format!("{}/s", int(o.publish_per_sec as u64))
        }),
        reached: batch.map(|o| o.publish_per_sec >= 20_000.0),
    });
    bars
}

/// A bar comparing one measure of TaskHub's outcome with a peer's: their ratio, which
/// `reached` judges.
fn ratio_bar(
    name: &'static str,
    wanted: &str,
    (ours, theirs): (Option<&Outcome>, Option<&Outcome>),
    (measure, unit): (fn(&Outcome) -> f64, &str),
    reached: fn(f64) -> bool,
) -> Bar {
    let ratio = match (ours, theirs) {
        (Some(a), Some(b)) if measure(b) > 0.0 => Some(measure(a) / measure(b)),
        _ => None,
    };
    Bar {
        name,
        wanted: wanted.into(),
        measured: ratio_text(ratio, ours, theirs, measure, unit),
        reached: ratio.map(reached),
    }
}

fn ratio_text(
    ratio: Option<f64>,
    a: Option<&Outcome>,
    b: Option<&Outcome>,
    f: fn(&Outcome) -> f64,
    unit: &str,
) -> String {
    match (ratio, a, b) {
        (Some(r), Some(a), Some(b)) if unit == "/s" => format!(
            "{r:.2}× ({}{unit} vs {}{unit})",
            int(f(a) as u64),
            int(f(b) as u64)
        ),
        (Some(r), Some(a), Some(b)) => format!("{r:.2}× ({:.2}{unit} vs {:.2}{unit})", f(a), f(b)),
        _ => "-".into(),
    }
}

/// `1234567` as `1,234,567`.
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with the precision they deserve.
pub fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(ms(0.1234), "0.12");
        assert_eq!(ms(12.34), "12.3");
        assert_eq!(ms(1234.6), "1235");
    }
}
