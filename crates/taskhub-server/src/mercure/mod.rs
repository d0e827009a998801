//! The Mercure hub at `/.well-known/mercure` (draft-dunglas-mercure-07, the protocol of
//! the Mercure 0.x hubs deployed today): publishers POST form-encoded updates, subscribers
//! GET an event stream of the topics they select.
//!
//! Updates go into TaskHub's one event log like any event, so they get its durability,
//! replay, ids order and cluster mode; native events reach Mercure subscribers too. How
//! each protocol sees the other's events is in `docs/mercure.md`.
//!
//! - `config`: the keys and `--mercure-anonymous`, checked at start-up into
//!   [`MercureHub`].
//! - `token`: where a request's JWT travels, and what its `mercure` claim grants;
//!   `caller`: the two extractors that read it, [`MercurePublisher`] and
//!   [`MercureSubscriber`].
//! - `form`: strict `application/x-www-form-urlencoded` decoding.
//! - `publish`, `subscribe`: the two handlers; `subscribe_query`: a subscription's
//!   selectors, draft-07's `topic=` and Mercure 1.0's `match=` / `match_<type>=`.
//! - `discovery`: the hub's path and the `Link: rel="mercure"` header on the tasks API.

mod caller;
mod config;
mod discovery;
mod form;
pub(crate) mod publish;
pub(crate) mod subscribe;
mod subscribe_query;
mod token;

pub(crate) use config::MercureHub;
pub use config::{MercureConfig, MercureConfigError, MercureKey, MercureKeys};
pub(crate) use discovery::{PATH, link_header};
