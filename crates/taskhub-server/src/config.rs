//! Server settings. The binary fills them from flags and `TASKHUB_*` variables; tests
//! build them directly.
//!
//! Each setting is said once: its default in [`defaults`] (which `Config::default()` and
//! the binary's flags both read) and its allowed range in [`Config::validate`] (which
//! `Server::bind` runs, so a `Config` built in code is checked like one from flags).

use std::net::SocketAddr;
use std::time::Duration;

use crate::auth::{AuthHookConfig, JwtConfig};
use taskhub_cluster::RedisUrl;

use crate::backend::StoreUrl;
use crate::client_addr::TrustedProxies;
use crate::edge::cors::CorsOrigins;
use crate::mercure::MercureConfig;
use crate::subscription::SlowClientPolicy;
use crate::tls::TlsFiles;
use crate::webhook::WebhookConfig;

/// The default of every setting that has one.
pub mod defaults {
    use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
    use std::time::Duration;

    pub const ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8000));
    /// Stream connects per minute per client address.
    pub const CONNECT_RATE: u32 = 60;
    /// Writes per second per client address.
    pub const PUBLISH_RATE: u32 = 1000;
    pub const MAX_CLIENTS: usize = 10_000;
    pub const KEEPALIVE: Duration = Duration::from_secs(15);
    pub const RETRY: Duration = Duration::from_millis(3000);
    pub const CLIENT_BUFFER: usize = 1000;
    pub const HISTORY_SIZE: u64 = 100_000;
    pub const MAX_BODY_BYTES: usize = 1_048_576;
    pub const MAX_EVENT_BYTES: usize = 65_536;
    pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
    pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
    pub const MAX_HEADER_BYTES: usize = 16 * 1024;
    /// How long an `Idempotency-Key` is remembered: a day, as Stripe's API does.
    pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);
    /// How long a presence member stays after its last stream went, so a reconnect
    /// announces nothing.
    pub const PRESENCE_GRACE: Duration = Duration::from_secs(5);
    /// Cluster mode: how soon the members of a node that stopped beating (SIGKILL, a
    /// network split) leave.
    pub const PRESENCE_TTL: Duration = Duration::from_secs(30);
    /// How long the auth hook has to answer.
    pub const AUTH_HOOK_TIMEOUT: Duration = Duration::from_millis(2000);
}

/// The bounds [`Config::validate`] holds settings to.
mod bounds {
    use std::ops::RangeInclusive;

    pub(super) const CLIENT_BUFFER: RangeInclusive<usize> = 1..=1_000_000;
    /// A browser's request head (cookies included) commonly reaches several KiB.
    pub(super) const MAX_HEADER_BYTES: RangeInclusive<usize> = 8192..=1_048_576;
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
    /// Token verification; no key (and no hook) means authentication is off.
    pub jwt: JwtConfig,
    /// The application's auth hook, asked about requests without a valid token.
    pub auth_hook: Option<AuthHookConfig>,
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
    /// Silence after which a stream gets a `: keepalive` comment; at least a second.
    pub keepalive: Duration,
    pub retry: Duration,
    /// Events a subscriber may fall behind before the slow-client policy applies.
    pub client_buffer: usize,
    pub slow_client_policy: SlowClientPolicy,
    /// Newest events kept for replay; at least one.
    pub history_size: u64,
    /// Events older than this are trimmed in the background; `None` keeps them until
    /// `history_size` newer ones push them out.
    pub history_max_age: Option<Duration>,
    pub max_body_bytes: usize,
    /// Largest `data` of one event, encoded as JSON.
    pub max_event_bytes: usize,
    pub shutdown_grace: Duration,
    /// Time a client has to send a request's body; at least a second.
    pub body_timeout: Duration,
    /// Time a client has to send a request's headers; at least a second.
    pub header_read_timeout: Duration,
    /// Time a client may leave response bytes unread before its connection is closed;
    /// at least a second.
    pub write_timeout: Duration,
    /// Largest request head (request line and headers) accepted.
    pub max_header_bytes: usize,
    /// How long a write's `Idempotency-Key` is remembered; at least a second.
    pub idempotency_ttl: Duration,
    /// Serve HTTPS (HTTP/2 and HTTP/1.1) with this certificate and key.
    pub tls: Option<TlsFiles>,
    /// How long a presence member stays after its last stream went; zero is allowed.
    pub presence_grace: Duration,
    /// Cluster mode: a node's members leave this long after its last heartbeat; at least
    /// 3 seconds (heartbeats are a third of it apart).
    pub presence_ttl: Duration,
    /// Webhooks (`--webhook-*`); no URL turns them off.
    pub webhooks: WebhookConfig,
}

/// A setting outside its allowed range.
#[derive(Debug, thiserror::Error)]
#[error("--{flag} must be {expected}, got {got}")]
pub struct ConfigError {
    flag: &'static str,
    expected: String,
    got: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: defaults::ADDR,
            database_url: StoreUrl::default(),
            redis_url: None,
            allow_unauthenticated: false,
            jwt: JwtConfig::default(),
            auth_hook: None,
            mercure: None,
            cors_origins: CorsOrigins::default(),
            connect_rate: defaults::CONNECT_RATE,
            publish_rate: defaults::PUBLISH_RATE,
            trusted_proxies: TrustedProxies::default(),
            max_clients: defaults::MAX_CLIENTS,
            keepalive: defaults::KEEPALIVE,
            retry: defaults::RETRY,
            client_buffer: defaults::CLIENT_BUFFER,
            slow_client_policy: SlowClientPolicy::default(),
            history_size: defaults::HISTORY_SIZE,
            history_max_age: None,
            max_body_bytes: defaults::MAX_BODY_BYTES,
            max_event_bytes: defaults::MAX_EVENT_BYTES,
            shutdown_grace: defaults::SHUTDOWN_GRACE,
            body_timeout: defaults::BODY_TIMEOUT,
            header_read_timeout: defaults::HEADER_READ_TIMEOUT,
            write_timeout: defaults::WRITE_TIMEOUT,
            max_header_bytes: defaults::MAX_HEADER_BYTES,
            idempotency_ttl: defaults::IDEMPOTENCY_TTL,
            tls: None,
            presence_grace: defaults::PRESENCE_GRACE,
            presence_ttl: defaults::PRESENCE_TTL,
            webhooks: WebhookConfig::default(),
        }
    }
}

impl Config {
    /// Checks every setting against its allowed range (the flags' names in the errors).
    pub fn validate(&self) -> Result<(), ConfigError> {
        at_least_a_second("keepalive-secs", self.keepalive)?;
        at_least_a_second("body-timeout-secs", self.body_timeout)?;
        at_least_a_second("header-timeout-secs", self.header_read_timeout)?;
        at_least_a_second("write-timeout-secs", self.write_timeout)?;
        at_least_a_second("idempotency-ttl-secs", self.idempotency_ttl)?;
        within("client-buffer", self.client_buffer, bounds::CLIENT_BUFFER)?;
        within(
            "max-header-bytes",
            self.max_header_bytes,
            bounds::MAX_HEADER_BYTES,
        )?;
        if self.presence_ttl < Duration::from_secs(3) {
            return Err(ConfigError {
                flag: "presence-ttl-secs",
                expected: "at least 3 seconds".into(),
                got: format!("{:?}", self.presence_ttl),
            });
        }
        if self.presence_grace > Duration::from_secs(3600) {
            return Err(ConfigError {
                flag: "presence-grace-secs",
                expected: "at most 3600 seconds".into(),
                got: format!("{:?}", self.presence_grace),
            });
        }
        if let Some(age) = self.history_max_age {
            at_least_a_second("history-max-age", age)?;
        }
        if self.history_size == 0 {
            return Err(ConfigError {
                flag: "history-size",
                expected: "at least 1".into(),
                got: "0".into(),
            });
        }
        Ok(())
    }
}

fn at_least_a_second(flag: &'static str, value: Duration) -> Result<(), ConfigError> {
    if value < Duration::from_secs(1) {
        return Err(ConfigError {
            flag,
            expected: "at least 1 second".into(),
            got: format!("{value:?}"),
        });
    }
    Ok(())
}

fn within(
    flag: &'static str,
    value: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<(), ConfigError> {
    if !range.contains(&value) {
        return Err(ConfigError {
            flag,
            expected: format!("from {} to {}", range.start(), range.end()),
            got: value.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn each_range_is_checked_and_named() {
        let refused = |change: fn(&mut Config)| {
            let mut config = Config::default();
            change(&mut config);
            config.validate().expect_err("out of range").to_string()
        };
        assert_eq!(
            refused(|c| c.keepalive = Duration::ZERO),
            "--keepalive-secs must be at least 1 second, got 0ns"
        );
        assert!(
            refused(|c| c.body_timeout = Duration::from_millis(500))
                .contains("--body-timeout-secs")
        );
        assert!(
            refused(|c| c.header_read_timeout = Duration::ZERO).contains("--header-timeout-secs")
        );
        assert!(refused(|c| c.write_timeout = Duration::ZERO).contains("--write-timeout-secs"));
        assert_eq!(
            refused(|c| c.client_buffer = 0),
            "--client-buffer must be from 1 to 1000000, got 0"
        );
        assert!(refused(|c| c.client_buffer = 1_000_001).contains("--client-buffer"));
        assert!(refused(|c| c.max_header_bytes = 8191).contains("--max-header-bytes"));
        assert!(refused(|c| c.max_header_bytes = 1_048_577).contains("--max-header-bytes"));
        assert!(refused(|c| c.history_size = 0).contains("--history-size"));
        assert!(
            refused(|c| c.presence_ttl = Duration::from_secs(2)).contains("--presence-ttl-secs")
        );
        assert!(
            refused(|c| c.presence_grace = Duration::from_secs(3601))
                .contains("--presence-grace-secs")
        );
    }
}
