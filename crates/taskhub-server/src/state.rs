//! What the handlers share ([`AppState`]), and the parts of it that extractors take.
//!
//! Extractors (credentials, rate limits, the client's address, the body) never see the
//! whole state: each asks for the one part it needs through axum's `FromRef`, so they sit
//! below the handlers and import nothing of them. Every part is cheap to clone (an `Arc`
//! or a few words), since `FromRef` hands out a clone per request.

use std::sync::Arc;

use axum::extract::FromRef;
use tokio_util::sync::CancellationToken;

use crate::auth::TaskhubTokens;
use crate::backend::{EventLog, TaskStore};
use crate::client_addr::TrustedProxies;
use crate::config::Config;
use crate::connection_budget::ConnectionBudget;
use crate::edge::body::BodyLimits;
use crate::edge::idempotency::IdempotencyTtl;
use crate::hub::Hub;
use crate::mercure::MercureHub;
use crate::presence::Presences;
use crate::rate_limit::Limits;
use crate::webhook::Webhooks;

/// What every handler can reach. Cheap to clone: everything is shared.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) config: Arc<Config>,
    pub(crate) events: EventLog,
    pub(crate) tasks: TaskStore,
    pub(crate) hub: Arc<Hub>,
    /// The client connections the open-file limit leaves room for; stream requests
    /// check its reserve.
    pub(crate) connections: Arc<ConnectionBudget>,
    /// Checks TaskHub's tokens; off when no key is configured.
    pub(crate) tokens: TaskhubTokens,
    /// The Mercure hub at `/.well-known/mercure`; `None` when it is off.
    pub(crate) mercure: Option<Arc<MercureHub>>,
    /// Who is present where, and the bookkeeping that announces it.
    pub(crate) presence: Arc<Presences>,
    /// Per-address rate limits.
    pub(crate) limits: Arc<Limits>,
    /// The webhook targets; `None` when there are none.
    pub(crate) webhooks: Option<Arc<Webhooks>>,
    /// Cancelled when the server starts shutting down; a stream reading history checks
    /// it between pages (live streams end when the hub closes).
    pub(crate) shutdown: CancellationToken,
}

impl FromRef<AppState> for TaskhubTokens {
    fn from_ref(state: &AppState) -> Self {
        state.tokens.clone()
    }
}

impl FromRef<AppState> for Option<Arc<MercureHub>> {
    fn from_ref(state: &AppState) -> Self {
        state.mercure.clone()
    }
}

impl FromRef<AppState> for Arc<Limits> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.limits)
    }
}

impl FromRef<AppState> for TrustedProxies {
    fn from_ref(state: &AppState) -> Self {
        state.config.trusted_proxies.clone()
    }
}

impl FromRef<AppState> for BodyLimits {
    fn from_ref(state: &AppState) -> Self {
        Self {
            max_bytes: state.config.max_body_bytes,
            timeout: state.config.body_timeout,
        }
    }
}

impl FromRef<AppState> for IdempotencyTtl {
    fn from_ref(state: &AppState) -> Self {
        Self(state.config.idempotency_ttl)
    }
}
