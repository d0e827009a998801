//! `taskhub-bench`: a load generator for SSE fan-out servers, and the side-by-side
//! benchmark of TaskHub against its peers (the seed's FastAPI app, nchan, Pushpin).
//!
//! The coordinator (this process) starts each server fresh, spreads the subscribers
//! over worker processes (this binary again, `worker`), publishes events that carry a
//! token `~publisher~seq~send time~`, and reads the server's CPU and memory from
//! `/proc`. Each subscriber checks its stream for loss, duplicates and reordering.
//! `flood` floods a fresh TaskHub with slow request heads beside open streams and checks
//! that it gives the memory back once the clients leave. `history` measures page reads
//! and the publishes beside a large trim by age. `presence` measures what presence costs:
//! present streams opened at a rate, the bookkeeping's lag, `GET /presence`, the leaves;
//! `suite --presence on|off` is fan-out with and without it.

pub mod chunked;
pub mod clock;
pub mod error;
pub mod fleet;
pub mod flood;
pub mod history;
pub mod http;
pub mod latency;
pub mod load;
pub mod machine;
pub mod output;
pub mod plot;
pub mod presence;
pub mod procfs;
pub mod progress;
pub mod protocol;
pub mod publisher;
pub mod report;
pub mod run;
pub mod scenario;
pub mod server;
pub mod slow_head;
pub mod sse;
pub mod subscriber;
pub mod suite;
pub mod target;
pub mod token;
pub mod tracker;
pub mod url;
pub mod worker;

pub use error::BenchError;
pub use target::{Kind, PresenceMode, Target};
