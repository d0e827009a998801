//! Server settings. The binary fills them from flags and `TASKHUB_*` variables; tests
//! build them directly.

use std::net::SocketAddr;
use std::time::Duration;

use crate::{CorsOrigins, JwtConfig, MercureConfig, RedisUrl, StoreUrl, TrustedProxies};

/// What to do with a subscriber whose buffer of undelivered events is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SlowClientPolicy {
    /// End its stream; it reconnects with `Last-Event-ID` and replays from history.
    #[default]
    Disconnect,
    /// Drop its oldest undelivered events and tell it with one `event: gap`.
    DropOldest,
}

/// Every setting of `taskhub serve` that the server reads.
#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    /// Where tasks (and, with SQLite, events) live.
    pub database_url: StoreUrl,
    /// Cluster mode: the Redis whose stream carries the events (tasks then need PostgreSQL).
    pub redis_url: Option<RedisUrl>,
    /// Serve on a non-loopback address with authentication off.
    pub allow_unauthenticated: bool,
    /// Token verification; no key means authentication is off.
    pub jwt: JwtConfig,
    /// The Mercure hub at `/.well-known/mercure`; `None` turns it off.
    pub mercure: Option<MercureConfig>,
    /// Browser origins allowed to call the API (CORS).
    pub cors_origins: CorsOrigins,
    /// Stream connects per minute per client address; 0 turns the limit off.
    pub connect_rate: u32,
    /// Writes (publishes, task changes) per second per client address; 0 turns it off.
    pub publish_rate: u32,
    /// Proxies whose `X-Forwarded-For` names the client address.
    pub trusted_proxies: TrustedProxies,
    pub max_clients: usize,
    pub keepalive: Duration,
    pub retry: Duration,
    pub client_buffer: usize,
    pub slow_client_policy: SlowClientPolicy,
    pub history_size: u64,
    pub max_body_bytes: usize,
    /// Largest `data` of one event, encoded as JSON.
    pub max_event_bytes: usize,
    pub shutdown_grace: Duration,
    /// Time a client has to send a request's body.
    pub body_timeout: Duration,
    /// Time a client has to send a request's headers.
    pub header_read_timeout: Duration,
    /// Time a client may leave response bytes unread before its connection is closed.
    pub write_timeout: Duration,
    /// Largest request head (request line and headers) accepted.
    pub max_header_bytes: usize,
    /// Serve HTTPS (HTTP/2 and HTTP/1.1) with this certificate and key.
    pub tls: Option<crate::TlsFiles>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            database_url: StoreUrl::default(),
            redis_url: None,
            allow_unauthenticated: false,
            jwt: JwtConfig::default(),
            mercure: None,
            cors_origins: CorsOrigins::default(),
            connect_rate: 60,
            publish_rate: 1000,
            trusted_proxies: TrustedProxies::default(),
            max_clients: 10_000,
            keepalive: Duration::from_secs(15),
            retry: Duration::from_millis(3000),
            client_buffer: 1000,
            slow_client_policy: SlowClientPolicy::Disconnect,
            history_size: 100_000,
            max_body_bytes: 1_048_576,
            max_event_bytes: 65_536,
            shutdown_grace: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            tls: None,
        }
    }
}
