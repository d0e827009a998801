//! TaskHub's server: the HTTP API, the fan-out of committed events to SSE subscribers,
//! and the server's lifecycle.
//!
//! # Layout, from the ground floor up
//! - `config`, `limits`, `age`: every setting with its default and range, the API's
//!   fixed limits, and ages as flags write them (`7d`); `connection_budget`: the client connections the open-file limit leaves
//!   room for; `error`: `ApiError`, the one error of the edge, as problem+json;
//!   `metrics`: the process's counters.
//! - `outbound`: TaskHub's own outgoing HTTP requests (key sets, the auth hook,
//!   webhooks), one per connection, bounded in time and size, no redirects.
//! - `backend`: the engines behind the event log and the tasks, chosen at start-up;
//!   `hub`: the live tail every subscriber reads; `subscription`: one subscriber's stream;
//!   `history`: the log read as filtered pages (the history API, and where a rewound
//!   stream starts); `presence`: who has a stream open on which selector, and the
//!   bookkeeping task that announces joins and leaves through the log.
//! - Extractors, each taking only its part of the state: `auth` (TaskHub's credentials),
//!   `client_addr` and `rate_limit`, `mercure::caller` (Mercure's credentials),
//!   `edge::body`.
//! - `state`: what handlers share, and the parts it hands to extractors.
//! - Handlers: `api` (TaskHub's own endpoints) and `mercure` (the Mercure hub), with the
//!   helpers both share in `edge`; `router` wires them and `openapi` describes them.
//! - `webhook`: the deliverers POSTing the log's events to `--webhook-url`s (a
//!   background task per target, beside the streams).
//! - `server`, `connections`, `tls`, `shutdown`: binding, the accept loop, draining.
//!
//! Nothing imports upwards: no file imports one that imports it back. See
//! `ARCHITECTURE.md` at the repository root for the path of one event.

mod age;
mod api;
mod auth;
mod backend;
mod client_addr;
mod config;
mod connection_budget;
mod connections;
mod edge;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod history;
mod hub;
mod limits;
mod mercure;
mod metrics;
mod openapi;
mod outbound;
mod presence;
mod rate_limit;
mod request_id;
mod router;
mod server;
mod shutdown;
mod state;
mod subscription;
mod tls;
mod webhook;

pub use age::{ParseAgeError, parse_age};
pub use auth::{AuthHookConfig, AuthHookConfigError, JwtConfig, JwtConfigError, MIN_SECRET_BYTES};
pub use backend::{ParseStoreUrlError, RedisUrl, StoreUrl};
pub use client_addr::TrustedProxies;
pub use config::{Config, ConfigError, defaults};
pub use connection_budget::BudgetError;
pub use edge::cors::{BadOrigin, CorsOrigins};
pub use mercure::{MercureConfig, MercureConfigError, MercureKey, MercureKeys};
pub use outbound::OutboundUrlError;
pub use server::{Server, StartError};
pub use shutdown::shutdown_signal;
pub use subscription::SlowClientPolicy;
pub use tls::{TlsError, TlsFiles};
pub use webhook::{
    ParseSecretError, WebhookConfig, WebhookConfigError, defaults as webhook_defaults,
};
