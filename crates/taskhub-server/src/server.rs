//! Start-up and shutdown.
//!
//! [`Server::bind`] opens the store and the listening socket (so a caller binding port 0
//! learns the real port before serving). [`Server::run`] serves until the shutdown
//! future completes, then: stops accepting, cancels the token every stream watches (each
//! ends cleanly at a frame boundary), lets in-flight requests finish, and gives up on
//! stragglers when `--shutdown-grace-secs` runs out (see `connections`). Last, the store
//! commits whatever writes are still queued.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use taskhub_engine::{CommitSink, EngineError};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::backend;
use crate::connections::{self, ConnectionLimits};
use crate::http::{self, AppState};
use crate::hub::Hub;
use crate::rate_limit::{Limits, RateLimiter};
use crate::tls::{self, TlsError};
use crate::{Config, JwtConfigError, MercureConfigError};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "refusing to listen on {0} with authentication off: anyone who can reach it could \
         publish and read events. Listen on a loopback address, or pass \
         --allow-unauthenticated to accept the risk"
    )]
    UnauthenticatedExposure(SocketAddr),
    #[error("invalid JWT settings: {0}")]
    Jwt(#[from] JwtConfigError),
    #[error("invalid Mercure settings: {0}")]
    Mercure(#[from] MercureConfigError),
    #[error("cannot open the store: {0}")]
    Store(#[from] EngineError),
    #[error("cannot start in cluster mode: {0}")]
    Cluster(EngineError),
    #[error(
        "--redis-url puts the events in Redis, but the tasks would stay in this node's SQLite \
         file ({0}), which other nodes cannot see, and a task change and its event could not \
         commit together. In cluster mode use a postgres:// --database-url"
    )]
    RedisWithSqlite(String),
    #[error(
        "a postgres:// --database-url is cluster mode, which keeps the events in Redis: \
         add --redis-url (or use a sqlite:// database for a single node)"
    )]
    PostgresWithoutRedis,
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A bound, ready-to-run server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
    /// Set when serving HTTPS (`--tls-cert`).
    tls: Option<Arc<ServerConfig>>,
}

impl Server {
    pub async fn bind(config: Config) -> Result<Self, StartError> {
        let verifier = config.jwt.verifier()?;
        let mercure = config
            .mercure
            .as_ref()
            .map(|mercure| mercure.build().map(Arc::new))
            .transpose()?;
        let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
        if verifier.is_none() && !config.addr.ip().is_loopback() && !config.allow_unauthenticated {
            return Err(StartError::UnauthenticatedExposure(config.addr));
        }
        let hub = Arc::new(Hub::new(config.client_buffer, config.max_clients));
        let sink: CommitSink = {
            let hub = Arc::clone(&hub);
            Box::new(move |frame| hub.publish(frame))
        };
        let (events, tasks) = backend::open(&config, sink).await?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.addr,
                source,
            })?;
        let limits = Arc::new(Limits {
            connects: RateLimiter::new(config.connect_rate, Duration::from_secs(60)),
            writes: RateLimiter::new(config.publish_rate, Duration::from_secs(1)),
        });
        let state = AppState {
            config: Arc::new(config),
            events,
            tasks,
            hub,
            verifier,
            mercure,
            limits,
            shutdown: CancellationToken::new(),
        };
        Ok(Self {
            listener,
            state,
            tls,
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
        } = self;
        let config = Arc::clone(&state.config);
        let stop = state.shutdown.clone();
        let (events, tasks) = (state.events.clone(), state.tasks.clone());
        let hub = Arc::clone(&state.hub);
        if let Ok(addr) = listener.local_addr() {
            let scheme = if tls.is_some() { "https" } else { "http" };
            match &config.redis_url {
                None => info!(%addr, scheme, database = %config.database_url, "listening"),
                Some(redis) => {
                    info!(%addr, scheme, database = %config.database_url, %redis, "listening (cluster mode)");
                }
            }
        }
        if state.verifier.is_none() {
            warn!("authentication is off (no --jwt-secret): every local client is trusted");
        }
        let limits = ConnectionLimits {
            header_read_timeout: config.header_read_timeout,
            max_header_bytes: config.max_header_bytes,
            write_timeout: config.write_timeout,
        };
        let serving = tokio::spawn(connections::serve(
            listener,
            http::router(state),
            limits,
            tls.map(TlsAcceptor::from),
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
        tasks.close().await;
        events.close().await;
        info!("stopped");
    }
}
