//! TaskHub's server: the HTTP API, the fan-out of committed events to SSE subscribers,
//! and the server's lifecycle.
//!
//! # Layout
//! - [`Config`]: every setting, with the contract's defaults.
//! - [`Server`]: binds, runs until a shutdown signal, drains within the grace period.
//! - `connections`: the accept loop and the per-connection HTTP limits.
//! - `hub`: the live tail of the event log that every subscriber reads, and the
//!   connection limit.
//! - `subscription`: one subscriber's stream: replay from the store, then live, with
//!   keepalives and the slow-client policy.
//! - `http`: routes, request parsing at the edge, and errors as problem+json.
//! - `mercure`: the Mercure hub at `/.well-known/mercure`, on the same log and hub.
//!
//! See `ARCHITECTURE.md` at the repository root for the path of one event.

mod auth;
mod backend;
mod client_addr;
mod config;
mod connections;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod http;
mod hub;
mod mercure;
mod metrics;
mod rate_limit;
mod request_id;
mod server;
mod shutdown;
mod subscription;
mod tls;

pub use auth::{JwtConfig, JwtConfigError};
pub use backend::{ParseStoreUrlError, StoreUrl};
pub use client_addr::TrustedProxies;
pub use config::{Config, SlowClientPolicy};
pub use http::{BadOrigin, CorsOrigins};
pub use mercure::{MercureConfig, MercureConfigError, MercureKey};
pub use server::{Server, StartError};
pub use shutdown::shutdown_signal;
pub use taskhub_cluster::RedisUrl;
pub use tls::{TlsError, TlsFiles};
