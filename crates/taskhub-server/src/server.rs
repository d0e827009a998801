//! Start-up and shutdown.
//!
//! [`Server::bind`] opens the store and the listening socket (so a caller binding port 0
//! learns the real port before serving). [`Server::run`] serves until the shutdown
//! future completes, then: stops accepting, cancels the token every stream watches (each
//! ends cleanly at a frame boundary), lets in-flight requests finish, and gives up on
//! stragglers when `--shutdown-grace-secs` runs out (see `connections`). Then presence
//! finishes (a single node announces its members' leaves; a cluster node leaves them to
//! the grace period and the other nodes). Last, the store commits whatever writes are
//! still queued.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use taskhub_engine::CommitSink;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::auth::{AuthHookConfig, AuthHookConfigError, JwtConfigError, KeySets, TaskhubTokens};
use crate::backend::{self, OpenError};
use crate::config::{Config, ConfigError};
use crate::connection_budget::{BudgetError, ConnectionBudget};
use crate::connections::{self, Acceptor, ConnectionLimits, Intake};
use crate::hub::Hub;
use crate::mercure::MercureConfigError;
use crate::presence::Presences;
use crate::rate_limit::Limits;
use crate::router::router;
use crate::state::AppState;
use crate::tls::{self, TlsError};
use crate::webhook::{WebhookConfigError, Webhooks};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid setting: {0}")]
    Config(#[from] ConfigError),
    #[error(
        "refusing to listen on {0} with authentication off: anyone who can reach it could \
         publish and read events. Listen on a loopback address, or pass \
         --allow-unauthenticated to accept the risk"
    )]
    UnauthenticatedExposure(SocketAddr),
    #[error("invalid JWT settings: {0}")]
    Jwt(#[from] JwtConfigError),
    #[error("invalid auth hook settings: {0}")]
    AuthHook(#[from] AuthHookConfigError),
    #[error("invalid webhook settings: {0}")]
    Webhook(#[from] WebhookConfigError),
    #[error("cannot find where webhook delivery starts: {0}")]
    WebhookStart(taskhub_engine::EngineError),
    #[error("invalid Mercure settings: {0}")]
    Mercure(#[from] MercureConfigError),
    #[error(transparent)]
    Engine(#[from] OpenError),
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Descriptors(#[from] BudgetError),
    #[error("cannot start the request runtime: {0}")]
    Intake(std::io::Error),
    #[error("cannot listen on {addr}: {source}{}", bind_hint(source))]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What to do about a failed bind, when the error says.
fn bind_hint(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => {
            " (another TaskHub or another program listens there: stop it, or choose another --addr)"
        }
        std::io::ErrorKind::PermissionDenied => {
            " (ports below 1024 need privileges: choose another --addr)"
        }
        std::io::ErrorKind::AddrNotAvailable => " (no interface of this machine has that address)",
        _ => "",
    }
}

/// A bound, ready-to-run server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
    /// Set when serving HTTPS (`--tls-cert`).
    tls: Option<Arc<ServerConfig>>,
    /// The runtime requests are served on, apart from the event streams.
    intake: Intake,
}

impl Server {
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        config.validate()?;
        let shutdown = CancellationToken::new();
        // Key sets are fetched once here, before the server answers anything, and
        // refreshed in the background until shutdown.
        let mut key_sets = KeySets::new(shutdown.clone());
        let hook = config
            .auth_hook
            .as_ref()
            .map(AuthHookConfig::build)
            .transpose()?;
        let tokens = TaskhubTokens::new(
            config.jwt.verifier(&mut key_sets).await?,
            config.jwt.claims_path.as_deref(),
            hook,
        );
        let mercure = match &config.mercure {
            Some(mercure) => Some(Arc::new(
                mercure
                    .build(&config.cors_origins, config.tls.is_some(), &mut key_sets)
                    .await?,
            )),
            None => None,
        };
        let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
        let webhooks = config.webhooks.build()?;
        if !tokens.required() && !config.addr.ip().is_loopback() && !config.allow_unauthenticated {
            return Err(StartError::UnauthenticatedExposure(config.addr));
        }
        let hub = Arc::new(Hub::new(config.client_buffer, config.max_clients));
        let sink: CommitSink = {
            let hub = Arc::clone(&hub);
            Box::new(move |frames| hub.publish(frames))
        };
        let (events, tasks) = backend::open(&config, sink).await?;
        // A target new to the ledger starts after the newest event committed before this
        // server answers anything: every event published to it is delivered.
        let webhooks = match webhooks {
            Some(settings) => match events.newest_id().await {
                Ok(start) => Some(Arc::new(Webhooks::new(settings, start))),
                Err(e) => {
                    tasks.close().await;
                    events.close().await;
                    return Err(StartError::WebhookStart(e));
                }
            },
            None => None,
        };
        let presence = Presences::start(&config, &events);
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.addr,
                source,
            })?;
        // Counted now that the store's files and the listener are open.
        let budget = Arc::new(ConnectionBudget::of_this_process(
            backend::DESCRIPTORS_OPENED_LATER,
        )?);
        let limits = Arc::new(Limits::new(config.connect_rate, config.publish_rate));
        let state = AppState {
            config: Arc::new(config),
            events,
            tasks,
            hub,
            connections: budget,
            tokens,
            mercure,
            presence,
            limits,
            webhooks,
            shutdown,
        };
        let intake = Intake::start().map_err(StartError::Intake)?;
        Ok(Self {
            listener,
            state,
            tls,
            intake,
        })
    }

    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then drains within the grace period.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Self {
            listener,
            state,
            tls,
            intake,
        } = self;
        let config = Arc::clone(&state.config);
        let stop = state.shutdown.clone();
        let (events, tasks) = (state.events.clone(), state.tasks.clone());
        let hub = Arc::clone(&state.hub);
        let presence = Arc::clone(&state.presence);
        if let Ok(addr) = listener.local_addr() {
            let scheme = if tls.is_some() { "https" } else { "http" };
            match &config.redis_url {
                None => info!(%addr, scheme, database = %config.database_url, "listening"),
                Some(redis) => {
                    info!(%addr, scheme, database = %config.database_url, %redis, "listening (cluster mode)");
                }
            }
        }
        if !state.tokens.required() {
            warn!("authentication is off (no --jwt-secret): every local client is trusted");
        }
        let budget = Arc::clone(&state.connections);
        if config.max_clients > budget.stream_ceiling() {
            warn!(
                max_clients = config.max_clients,
                streams = budget.stream_ceiling(),
                "the open-file limit leaves room for fewer streams than --max-clients: \
                 streams past it get 503; raise the limit (ulimit -n, LimitNOFILE=)"
            );
        }
        let limits = ConnectionLimits {
            header_read_timeout: config.header_read_timeout,
            max_header_bytes: config.max_header_bytes,
            write_timeout: config.write_timeout,
        };
        let deliverers = state
            .webhooks
            .as_ref()
            .map(|webhooks| webhooks.spawn(&events, &hub, &stop))
            .unwrap_or_default();
        let serving = tokio::spawn(connections::serve(
            Acceptor::new(listener, budget),
            router(state),
            limits,
            tls.map(TlsAcceptor::from),
            intake,
            stop.clone(),
            config.shutdown_grace,
        ));
        shutdown.await;
        info!(grace = ?config.shutdown_grace, "shutting down: ending streams, finishing requests");
        // Then stops the accept loop and ends every stream at a frame boundary.
        events.settle().await;
        stop.cancel();
        hub.close();
        if let Err(e) = serving.await {
            warn!(error = %e, "the accept loop panicked");
        }
        // The streams have ended: their leaves are queued, and the log still takes writes.
        presence.finish().await;
        // Webhook deliverers drop an attempt in flight (it is made again after restart)
        // and give up their leases; bounded, as the log may be what they wait on.
        let released = futures_util::future::join_all(deliverers);
        if tokio::time::timeout(config.shutdown_grace, released)
            .await
            .is_err()
        {
            warn!("webhook deliverers did not stop within the grace period");
        }
        tasks.close().await;
        events.close().await;
        info!("stopped");
    }
}
