//! The Mercure hub at `/.well-known/mercure` (draft-dunglas-mercure-07, the protocol of
//! the Mercure 0.x hubs deployed today): publishers POST form-encoded updates, subscribers
//! GET an event stream of the topics they select.
//!
//! Updates go into TaskHub's one event log like any event, so they get its durability,
//! replay, ids order and cluster mode; native events reach Mercure subscribers too. How
//! each protocol sees the other's events is in `docs/mercure.md`.
//!
//! - `config`: the keys and `--mercure-anonymous`, checked at start-up into [`Mercure`].
//! - `token`: where a request's JWT travels, and what its `mercure` claim grants.
//! - `form`: strict `application/x-www-form-urlencoded` decoding.
//! - `publish`, `subscribe`: the two handlers; [`Subscriber`], what a stream may see.
//! - `discovery`: the `Link: rel="mercure"` header on the tasks API.

mod config;
mod discovery;
mod form;
pub(crate) mod publish;
pub(crate) mod subscribe;
mod token;

pub(crate) use config::Mercure;
pub use config::{MercureConfig, MercureConfigError, MercureKey};
pub(crate) use discovery::link_header;
pub(crate) use subscribe::Subscriber;

/// The hub's path, fixed by the protocol.
pub(crate) const PATH: &str = "/.well-known/mercure";
