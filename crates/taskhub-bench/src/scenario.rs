//! The scenarios of the side-by-side run, one per bar of issue 4, at full size; `scale`
//! shrinks the connection counts and `time_scale` the durations (for quick runs).
//!
//! | scenario | what | bar (TaskHub) |
//! |---|---|---|
//! | `fanout` | 10k subscribers × 100 events/s, 1 channel, 20 s | ≥ 1M deliveries/s, no loss, p99 ≤ 100 ms |
//! | `burst` | 1k subscribers, publish as fast as they keep up, 10 s | ≥ 6× nchan's deliveries/s, ≤ 0.2× its CPU per delivery, ≥ 100× the seed's |
//! | `idle` | 19,800 idle connections | all connected, ≤ 4 KiB RSS each |
//! | `stall` | 1k subscribers × 100 events/s (4 KiB each), without then with 10% never reading, 30 s | others' p99 within 10%, memory bounded |
//! | `publish` | 32 publishers, no subscribers, 10 s: single events, then batches of 100 | ≥ 5,000 acked publishes/s; ≥ 20,000 events/s in batches |

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::BenchError;
use crate::publisher::{Pace, PublishPlan};
use crate::run::RunSpec;
use crate::target::Kind;

/// The scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Name {
    Fanout,
    Burst,
    Idle,
    Stall,
    Publish,
}

impl Name {
    pub const ALL: [Self; 5] = [
        Self::Fanout,
        Self::Burst,
        Self::Idle,
        Self::Stall,
        Self::Publish,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fanout => "fanout",
            Self::Burst => "burst",
            Self::Idle => "idle",
            Self::Stall => "stall",
            Self::Publish => "publish",
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Name {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| {
                BenchError::Config(format!(
                    "unknown scenario {s:?} (fanout, burst, idle, stall, publish)"
                ))
            })
    }
}

/// How big to make the scenarios.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Multiplies connection counts (1.0: the numbers).
    pub scale: f64,
    /// Multiplies durations.
    pub time_scale: f64,
    /// Subscriber worker processes (at least; more when connections need them).
    pub workers: usize,
    /// Connections per source address.
    pub per_source: usize,
}

/// One measurement of a scenario (most have one; `stall` and `publish` have two).
#[derive(Debug, Clone)]
pub struct Step {
    pub label: &'static str,
    pub spec: RunSpec,
}

/// A scenario: what it measures and its steps.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: Name,
    pub title: String,
    pub steps: Vec<Step>,
}

/// Subscribers opened per second and attempts in flight, per server: pushpin answers
/// 502 past about 100 subscribes in flight, the seed accepts about 660 per second.
pub fn connect_pace(kind: Kind) -> (f64, usize) {
    match kind {
        Kind::Taskhub | Kind::Nchan => (5000.0, 256),
        Kind::Seed => (1000.0, 64),
        Kind::Pushpin => (800.0, 48),
    }
}

impl Scenario {
    pub fn build(name: Name, size: Size) -> Self {
        let n = |full: usize| ((full as f64 * size.scale).round() as usize).max(4);
        let secs = |full: f64| Duration::from_secs_f64((full * size.time_scale).max(1.0));
        let base = |subscribers: usize| RunSpec {
            subscribers,
            workers: size.workers,
            per_source: size.per_source,
            source_net: 0,
            connect_rate: 5000.0,
            connect_in_flight: 256,
            retries: 2,
            stall_fraction: 0.0,
            stall_recv_buffer: 4096,
            settle: Duration::from_secs(1),
            hold: Duration::ZERO,
            publish: None,
            drain_timeout: secs(20.0),
        };
        let plan = |publishers, pace, batch, duration: f64, pad| PublishPlan {
            publishers,
            pace,
            batch,
            duration: secs(duration),
            pad,
            request_timeout: Duration::from_secs(30),
            max_events: None,
        };
        match name {
            Name::Fanout => {
                let subs = n(10_000);
                Self {
                    name,
                    title: format!(
                        "{subs} subscribers × 100 events/s, one channel (10 publishers)"
                    ),
                    steps: vec![Step {
                        label: "",
                        spec: RunSpec {
                            publish: Some(plan(10, Pace::Rate(100.0), 1, 20.0, 0)),
                            ..base(subs)
                        },
                    }],
                }
            }
            Name::Burst => {
                let subs = n(1_000);
                Self {
                    name,
                    title: format!("{subs} subscribers, publishing as fast as they keep up"),
                    steps: vec![Step {
                        label: "",
                        spec: RunSpec {
                            publish: Some(plan(8, Pace::Window(512), 1, 10.0, 0)),
                            ..base(subs)
                        },
                    }],
                }
            }
            Name::Idle => {
                let subs = n(19_800);
                Self {
                    name,
                    title: format!("{subs} idle connections"),
                    steps: vec![Step {
                        label: "",
                        spec: RunSpec {
                            settle: Duration::from_secs(3),
                            hold: secs(5.0),
                            ..base(subs)
                        },
                    }],
                }
            }
            Name::Stall => {
                let subs = n(1_000);
                let spec = |stall_fraction| RunSpec {
                    stall_fraction,
                    publish: Some(plan(10, Pace::Rate(100.0), 1, 30.0, 4096)),
                    drain_timeout: secs(10.0),
                    ..base(subs)
                };
                Self {
                    name,
                    title: format!(
                        "{subs} subscribers × 100 events/s of 4 KiB, without and with 10% \
                         never reading"
                    ),
                    steps: vec![
                        Step {
                            label: "all read",
                            spec: spec(0.0),
                        },
                        Step {
                            label: "10% stalled",
                            spec: spec(0.1),
                        },
                    ],
                }
            }
            Name::Publish => {
                let spec = |batch| RunSpec {
                    publish: Some(plan(32, Pace::Open, batch, 10.0, 0)),
                    settle: Duration::ZERO,
                    ..base(0)
                };
                Self {
                    name,
                    title: "32 concurrent publishers, no subscribers".into(),
                    steps: vec![
                        Step {
                            label: "single",
                            spec: spec(1),
                        },
                        Step {
                            label: "batch of 100",
                            spec: spec(100),
                        },
                    ],
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_counts_and_durations() {
        let size = Size {
            scale: 0.01,
            time_scale: 0.1,
            workers: 2,
            per_source: 25_000,
        };
        let fanout = Scenario::build(Name::Fanout, size);
        let spec = &fanout.steps[0].spec;
        assert_eq!(spec.subscribers, 100);
        assert_eq!(
            spec.publish.as_ref().map(|p| p.duration),
            Some(Duration::from_secs(2))
        );
        assert_eq!(Scenario::build(Name::Stall, size).steps.len(), 2);
        assert_eq!("idle".parse::<Name>().expect("valid"), Name::Idle);
    }
}
