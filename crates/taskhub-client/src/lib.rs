//! TaskHub's client: what `taskhub listen`, `history` and `publish` do, as a library.
//!
//! # Layout
//! - [`listen`]: follow `GET /events/stream`, print each event's envelope as one line, and
//!   reconnect with `Last-Event-ID` after any drop, until cancelled.
//! - [`history`]: page through `GET /events`, print each envelope as one line, and with
//!   `follow` go on live from the last page with no gap or repeat.
//! - [`publish`]: one `POST /events`, answered with the server's acknowledgement.
//! - [`ClientError`]: why either gave up, with the server's problem+json `title`/`detail`.
//! - Internals: `endpoint` builds URLs, `sse` tells real events from control events,
//!   `reconnect` picks the wait before the next attempt.

mod endpoint;
mod error;
mod history;
mod listen;
mod publish;
mod reconnect;
mod sse;
#[cfg(test)]
mod test_server;

pub use endpoint::DEFAULT_BASE_URL;
pub use error::ClientError;
pub use history::{HistoryOptions, history};
pub use listen::{ListenOptions, listen};
pub use publish::{PublishOptions, publish};
