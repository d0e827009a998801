//! Command-line flags. Every `serve` setting is also a `TASKHUB_*` environment variable.

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};

use ipnet::IpNet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use taskhub_client::{DEFAULT_BASE_URL, HistoryOptions, ListenOptions, PublishOptions};
use taskhub_server::{
    AuthHookConfig, Config, CorsOrigins, JwtConfig, MIN_SECRET_BYTES, MercureConfig, MercureKey,
    MercureKeys, RedisUrl, Server, SlowClientPolicy, StoreUrl, TlsFiles, TrustedProxies,
    WebhookConfig, defaults, shutdown_signal, webhook_defaults,
};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// TaskHub: publish events over HTTP, receive them live over Server-Sent Events.
#[derive(Debug, Parser)]
#[command(version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: on one node with its embedded SQLite store (the default), or as a
    /// cluster node sharing Redis and PostgreSQL with others (--redis-url).
    Serve(Box<ServeArgs>),
    /// Print each event's envelope as one JSON line; reconnect and resume after any drop.
    Listen(ListenArgs),
    /// Print the events the server keeps, one envelope per JSON line, oldest first; with
    /// --follow, go on with live events.
    History(HistoryArgs),
    /// Publish one event and print the server's answer.
    Publish(PublishArgs),
    /// Mint an HS256 token for a server started with --jwt-secret (or, with --mercure,
    /// for its Mercure hub's --mercure-jwt-key).
    Token(TokenArgs),
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// The server's --jwt-secret (at least 32 bytes; with --mercure, the hub's key).
    #[arg(long, env = "TASKHUB_JWT_SECRET", hide_env_values = true)]
    secret: String,
    /// Topic selectors the token may subscribe to (private events), comma-separated.
    #[arg(long, value_delimiter = ',')]
    subscribe: Vec<String>,
    /// Topic selectors the token may publish to, comma-separated.
    #[arg(long, value_delimiter = ',')]
    publish: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl_secs: u64,
    /// The `sub` claim (who the token is for), if any.
    #[arg(long)]
    subject: Option<String>,
    /// A Mercure token: the selectors go in the `mercure` claim (sign it with the
    /// hub's --mercure-jwt-key).
    #[arg(long)]
    mercure: bool,
}

#[derive(Debug, Args)]
struct ListenArgs {
    /// The server's base URL.
    #[arg(default_value = DEFAULT_BASE_URL)]
    url: String,
    /// Only these event types (comma-separated; a trailing `*` is a prefix).
    #[arg(long)]
    types: Option<String>,
    /// Only these topics (comma-separated; a trailing `*` is a prefix).
    #[arg(long)]
    topics: Option<String>,
    /// Start after this event id (replays what came after it).
    #[arg(long)]
    last_event_id: Option<String>,
    /// A JWT, sent as `Authorization: Bearer`.
    #[arg(long, env = "TASKHUB_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Debug, Args)]
struct HistoryArgs {
    /// The server's base URL.
    #[arg(default_value = DEFAULT_BASE_URL)]
    url: String,
    /// Only these event types (comma-separated; a trailing `*` is a prefix).
    #[arg(long)]
    types: Option<String>,
    /// Only these topics (comma-separated; a trailing `*` is a prefix).
    #[arg(long)]
    topics: Option<String>,
    /// Only events committed at or after this time (RFC 3339, e.g. 2026-11-24T12:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// Only events after this id.
    #[arg(long)]
    after: Option<String>,
    /// Newest first.
    #[arg(long, conflicts_with = "follow")]
    newest_first: bool,
    /// Print at most this many events.
    #[arg(long, conflicts_with = "follow")]
    limit: Option<usize>,
    /// After the history, go on with live events (resuming after any drop) until
    /// interrupted.
    #[arg(long)]
    follow: bool,
    /// A JWT, sent as `Authorization: Bearer`.
    #[arg(long, env = "TASKHUB_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[derive(Debug, Args)]
struct PublishArgs {
    /// The server's base URL.
    #[arg(default_value = DEFAULT_BASE_URL)]
    url: String,
    /// The event type.
    #[arg(long)]
    event: String,
    /// The event's data, as JSON.
    #[arg(long)]
    data: String,
    /// The event's topic.
    #[arg(long)]
    topic: Option<String>,
    /// A JWT, sent as `Authorization: Bearer`.
    #[arg(long, env = "TASKHUB_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The Idempotency-Key every attempt carries [default: a random UUID]. Retries while
    /// the outcome is unknown are always safe; your own key also makes running the same
    /// command again safe (the server answers with the first run's id).
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Seconds to keep retrying while the server is unavailable or does not answer.
    #[arg(long, default_value_t = PublishOptions::DEFAULT_RETRY_FOR.as_secs())]
    retry_for_secs: u64,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on: IP:PORT, or HOST:PORT resolved at start (its first IPv4
    /// address, else its first).
    #[arg(long, env = "TASKHUB_ADDR", default_value_t = defaults::ADDR, value_parser = parse_addr)]
    addr: SocketAddr,
    /// Where tasks (and events, on one node) are stored: `sqlite://FILE`, or `postgres://…`
    /// in cluster mode (with --redis-url).
    #[arg(long, env = "TASKHUB_DATABASE_URL", default_value_t = StoreUrl::default())]
    database_url: StoreUrl,
    /// Cluster mode: the Redis (`redis://host:port/db`) whose stream carries the events,
    /// ids and history that every node shares [default: none, single node]
    #[arg(long, env = "TASKHUB_REDIS_URL", hide_env_values = true)]
    redis_url: Option<RedisUrl>,
    /// Shared secret (at least 32 bytes) for HS256 JWTs; turns authentication on.
    #[arg(long, env = "TASKHUB_JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// PEM file with the RSA or EC public key for RS256/ES256 JWTs; turns authentication on.
    #[arg(long, env = "TASKHUB_JWT_PUBLIC_KEY")]
    jwt_public_key: Option<PathBuf>,
    /// JWKS URL of an identity provider (its `jwks_uri`; https://, or http:// on loopback)
    /// whose keys verify RS256/ES256/EdDSA JWTs, each key fixing its algorithm; turns
    /// authentication on. See docs/auth.md.
    #[arg(long, env = "TASKHUB_JWT_JWKS_URL")]
    jwt_jwks_url: Option<String>,
    /// Accepted JWT algorithms, comma-separated [default: HS256, RS256 or ES256, by key]
    #[arg(long, env = "TASKHUB_JWT_ALGORITHMS", value_delimiter = ',')]
    jwt_algorithms: Vec<String>,
    /// The `iss` every JWT must carry [default: not checked]
    #[arg(long, env = "TASKHUB_JWT_ISSUER")]
    jwt_issuer: Option<String>,
    /// A value every JWT's `aud` must hold [default: not checked]
    #[arg(long, env = "TASKHUB_JWT_AUDIENCE")]
    jwt_audience: Option<String>,
    /// The claim holding the grants, taken literally (e.g. Auth0's namespaced
    /// `https://example.com/taskhub`) [default: taskhub]
    #[arg(long, env = "TASKHUB_JWT_CLAIMS_PATH")]
    jwt_claims_path: Option<String>,
    /// The application's auth hook: requests without a valid JWT are let in by what it
    /// answers about their forwarded credentials (https://, or http:// on loopback); turns
    /// authentication on. See docs/auth.md.
    #[arg(long, env = "TASKHUB_AUTH_HOOK_URL", requires = "auth_hook_forward")]
    auth_hook_url: Option<String>,
    /// The credentials the hook gets, comma-separated: `cookie:NAME` or `header:NAME`
    /// (e.g. cookie:sessionid,header:x-api-key); nothing else of the request is sent.
    #[arg(
        long,
        env = "TASKHUB_AUTH_HOOK_FORWARD",
        value_delimiter = ',',
        requires = "auth_hook_url"
    )]
    auth_hook_forward: Vec<String>,
    /// Milliseconds the hook has to answer; later is a 503, never a pass.
    #[arg(long, env = "TASKHUB_AUTH_HOOK_TIMEOUT_MS", default_value_t = millis(defaults::AUTH_HOOK_TIMEOUT))]
    auth_hook_timeout_ms: u64,
    /// Listen on a non-loopback address with authentication off.
    #[arg(long, env = "TASKHUB_ALLOW_UNAUTHENTICATED")]
    allow_unauthenticated: bool,
    /// Serve a Mercure hub at /.well-known/mercure; this key verifies publishers' and
    /// subscribers' tokens (a secret for HS*, a PEM public key for RS*/ES*) [default: none, hub off]
    #[arg(long, env = "TASKHUB_MERCURE_JWT_KEY", hide_env_values = true)]
    mercure_jwt_key: Option<String>,
    /// Serve a Mercure hub whose publishers' and subscribers' tokens are verified by the
    /// keys of this JWKS URL (instead of --mercure-jwt-key) [default: none]
    #[arg(
        long,
        env = "TASKHUB_MERCURE_JWKS_URL",
        conflicts_with = "mercure_jwt_key"
    )]
    mercure_jwks_url: Option<String>,
    /// Algorithm of the Mercure tokens.
    #[arg(long, env = "TASKHUB_MERCURE_JWT_ALG", default_value = "HS256")]
    mercure_jwt_alg: String,
    /// Key for Mercure publishers' tokens only [default: --mercure-jwt-key]
    #[arg(
        long,
        env = "TASKHUB_MERCURE_PUBLISHER_JWT_KEY",
        hide_env_values = true
    )]
    mercure_publisher_jwt_key: Option<String>,
    /// Algorithm of the publishers' tokens [default: --mercure-jwt-alg]
    #[arg(long, env = "TASKHUB_MERCURE_PUBLISHER_JWT_ALG")]
    mercure_publisher_jwt_alg: Option<String>,
    /// Key for Mercure subscribers' tokens only [default: --mercure-jwt-key]
    #[arg(
        long,
        env = "TASKHUB_MERCURE_SUBSCRIBER_JWT_KEY",
        hide_env_values = true
    )]
    mercure_subscriber_jwt_key: Option<String>,
    /// Algorithm of the subscribers' tokens [default: --mercure-jwt-alg]
    #[arg(long, env = "TASKHUB_MERCURE_SUBSCRIBER_JWT_ALG")]
    mercure_subscriber_jwt_alg: Option<String>,
    /// Let Mercure subscribers without a token receive public updates.
    #[arg(long, env = "TASKHUB_MERCURE_ANONYMOUS")]
    mercure_anonymous: bool,
    /// Browser origins allowed to call the API, comma-separated (exact, e.g. https://app.example.com).
    #[arg(long, env = "TASKHUB_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Stream connects per minute per client address (0: no limit).
    #[arg(long, env = "TASKHUB_CONNECT_RATE", default_value_t = defaults::CONNECT_RATE)]
    connect_rate: u32,
    /// Writes (publishes, task changes) per second per client address (0: no limit).
    #[arg(long, env = "TASKHUB_PUBLISH_RATE", default_value_t = defaults::PUBLISH_RATE)]
    publish_rate: u32,
    /// Proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For names the client.
    #[arg(long, env = "TASKHUB_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    trusted_proxies: Vec<IpNet>,
    /// Most open event streams; more get 503 with Retry-After.
    #[arg(long, env = "TASKHUB_MAX_CLIENTS", default_value_t = defaults::MAX_CLIENTS)]
    max_clients: usize,
    /// Seconds of silence after which a stream gets a `: keepalive` comment.
    #[arg(long, env = "TASKHUB_KEEPALIVE_SECS", default_value_t = defaults::KEEPALIVE.as_secs())]
    keepalive_secs: u64,
    /// Reconnection delay advised to clients (the `retry:` field), in milliseconds.
    #[arg(long, env = "TASKHUB_RETRY_MS", default_value_t = millis(defaults::RETRY))]
    retry_ms: u64,
    /// Undelivered events a subscriber may fall behind before the slow-client policy applies.
    #[arg(long, env = "TASKHUB_CLIENT_BUFFER", default_value_t = defaults::CLIENT_BUFFER)]
    client_buffer: usize,
    /// What happens to a subscriber whose buffer is full.
    #[arg(long, env = "TASKHUB_SLOW_CLIENT_POLICY", value_enum, default_value_t = SlowClientPolicy::default())]
    slow_client_policy: SlowClientPolicy,
    /// Newest events kept for replay with Last-Event-ID.
    #[arg(long, env = "TASKHUB_HISTORY_SIZE", default_value_t = defaults::HISTORY_SIZE)]
    history_size: u64,
    /// Also trim events older than this (e.g. 7d, 12h, 1d12h, 90s), in the background;
    /// whichever of size and age trims first wins [default: none, size alone]
    #[arg(long, env = "TASKHUB_HISTORY_MAX_AGE", value_parser = taskhub_server::parse_age)]
    history_max_age: Option<Duration>,
    /// Largest request body, in bytes.
    #[arg(long, env = "TASKHUB_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Largest `data` of one event, in bytes of JSON.
    #[arg(long, env = "TASKHUB_MAX_EVENT_BYTES", default_value_t = defaults::MAX_EVENT_BYTES)]
    max_event_bytes: usize,
    /// Seconds to wait for streams and requests to finish on SIGTERM/SIGINT.
    #[arg(long, env = "TASKHUB_SHUTDOWN_GRACE_SECS", default_value_t = defaults::SHUTDOWN_GRACE.as_secs())]
    shutdown_grace_secs: u64,
    /// Seconds a client has to send a request's body.
    #[arg(long, env = "TASKHUB_BODY_TIMEOUT_SECS", default_value_t = defaults::BODY_TIMEOUT.as_secs())]
    body_timeout_secs: u64,
    /// Seconds a client has to send a request's headers (slow clients are cut off).
    #[arg(long, env = "TASKHUB_HEADER_TIMEOUT_SECS", default_value_t = defaults::HEADER_READ_TIMEOUT.as_secs())]
    header_timeout_secs: u64,
    /// Seconds a client may leave response bytes unread (its socket full) before its
    /// connection is closed; it resumes with Last-Event-ID.
    #[arg(long, env = "TASKHUB_WRITE_TIMEOUT_SECS", default_value_t = defaults::WRITE_TIMEOUT.as_secs())]
    write_timeout_secs: u64,
    /// Largest request head (request line and headers), in bytes.
    #[arg(long, env = "TASKHUB_MAX_HEADER_BYTES", default_value_t = defaults::MAX_HEADER_BYTES)]
    max_header_bytes: usize,
    /// Seconds a write's Idempotency-Key is remembered: a retry with it within this time
    /// gets the first answer instead of a second write.
    #[arg(long, env = "TASKHUB_IDEMPOTENCY_TTL_SECS", default_value_t = defaults::IDEMPOTENCY_TTL.as_secs())]
    idempotency_ttl_secs: u64,
    /// PEM certificate chain: serve HTTPS (HTTP/2 and HTTP/1.1) instead of plain HTTP.
    #[arg(long, env = "TASKHUB_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "TASKHUB_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Seconds a presence member stays after its last stream went: a reconnect (or a
    /// second tab) within it announces no leave and no join.
    #[arg(long, env = "TASKHUB_PRESENCE_GRACE_SECS", default_value_t = defaults::PRESENCE_GRACE.as_secs())]
    presence_grace_secs: u64,
    /// Cluster mode: seconds after which the presence members of a node that stopped
    /// beating (killed, cut off) leave, announced once by a surviving node; at least 3.
    #[arg(long, env = "TASKHUB_PRESENCE_TTL_SECS", default_value_t = defaults::PRESENCE_TTL.as_secs())]
    presence_ttl_secs: u64,
    /// Log format.
    /// POST each selected event, signed (Standard Webhooks), to this URL; repeat for more
    /// targets. Delivery is at least once, in log order per URL. See docs/webhooks.md.
    #[arg(long, env = "TASKHUB_WEBHOOK_URL")]
    webhook_url: Vec<String>,
    /// The webhooks' signing secret: whsec_ and the base64 of 24 to 64 random bytes.
    #[arg(long, env = "TASKHUB_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// Event types delivered, comma-separated selectors (e.g. presence.*,task_*; * for
    /// all) [default: none, nothing delivered]
    #[arg(long, env = "TASKHUB_WEBHOOK_EVENTS")]
    webhook_events: Option<String>,
    /// How long a failing event is retried (e.g. 24h, 30m, 90s) before it is parked.
    #[arg(long, env = "TASKHUB_WEBHOOK_MAX_AGE", value_parser = taskhub_server::parse_age, default_value = "24h")]
    webhook_max_age: Duration,
    /// Seconds one webhook request (connect, send, answer) may take.
    #[arg(long, env = "TASKHUB_WEBHOOK_TIMEOUT_SECS", default_value_t = webhook_defaults::TIMEOUT.as_secs())]
    webhook_timeout_secs: u64,
    /// Let webhook URLs reach private, loopback and link-local addresses (refused by
    /// default, against SSRF).
    #[arg(long, env = "TASKHUB_WEBHOOK_ALLOW_PRIVATE")]
    webhook_allow_private: bool,
    #[arg(long, env = "TASKHUB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl Cli {
    pub(crate) async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => (*args).run().await,
            Command::Listen(args) => args.run().await,
            Command::History(args) => args.run().await,
            Command::Publish(args) => args.run().await,
            Command::Token(args) => args.run(),
        }
    }
}

impl ServeArgs {
    async fn run(self) -> anyhow::Result<()> {
        init_logging(self.log_format, "info");
        // Before anything else: a signal from now on is a graceful shutdown.
        let shutdown = shutdown_signal().context("cannot listen for SIGINT and SIGTERM")?;
        let mercure = self.mercure()?;
        let config = Config {
            addr: self.addr,
            database_url: self.database_url,
            redis_url: self.redis_url,
            allow_unauthenticated: self.allow_unauthenticated,
            jwt: JwtConfig {
                secret: self.jwt_secret,
                public_key_pem: self
                    .jwt_public_key
                    .map(|path| {
                        std::fs::read(&path)
                            .with_context(|| format!("cannot read {}", path.display()))
                    })
                    .transpose()?,
                jwks_url: self.jwt_jwks_url,
                algorithms: self.jwt_algorithms,
                issuer: self.jwt_issuer,
                audience: self.jwt_audience,
                claims_path: self.jwt_claims_path,
            },
            auth_hook: self.auth_hook_url.map(|url| AuthHookConfig {
                url,
                forward: self.auth_hook_forward,
                timeout: Duration::from_millis(self.auth_hook_timeout_ms),
            }),
            mercure,
            cors_origins: CorsOrigins::parse(&self.cors_origins)?,
            connect_rate: self.connect_rate,
            publish_rate: self.publish_rate,
            trusted_proxies: TrustedProxies::new(self.trusted_proxies),
            max_clients: self.max_clients,
            keepalive: Duration::from_secs(self.keepalive_secs),
            retry: Duration::from_millis(self.retry_ms),
            client_buffer: self.client_buffer,
            slow_client_policy: self.slow_client_policy,
            history_size: self.history_size,
            history_max_age: self.history_max_age,
            max_body_bytes: self.max_body_bytes,
            max_event_bytes: self.max_event_bytes,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            header_read_timeout: Duration::from_secs(self.header_timeout_secs),
            write_timeout: Duration::from_secs(self.write_timeout_secs),
            max_header_bytes: self.max_header_bytes,
            idempotency_ttl: Duration::from_secs(self.idempotency_ttl_secs),
            tls: self
                .tls_cert
                .zip(self.tls_key)
                .map(|(cert, key)| TlsFiles { cert, key }),
            presence_grace: Duration::from_secs(self.presence_grace_secs),
            presence_ttl: Duration::from_secs(self.presence_ttl_secs),
            webhooks: WebhookConfig {
                urls: self.webhook_url,
                secret: self.webhook_secret,
                events: self.webhook_events,
                max_age: self.webhook_max_age,
                timeout: Duration::from_secs(self.webhook_timeout_secs),
                allow_private: self.webhook_allow_private,
            },
        };
        let server = Server::bind(config).await?;
        server.run(shutdown).await;
        Ok(())
    }
}

impl ServeArgs {
    /// The Mercure settings from the `--mercure-*` flags; `None` leaves the hub off.
    fn mercure(&self) -> anyhow::Result<Option<MercureConfig>> {
        let key = |key: &Option<String>, algorithm: &Option<String>| {
            key.clone().map(|key| {
                MercureKeys::Key(MercureKey {
                    key,
                    algorithm: algorithm
                        .clone()
                        .unwrap_or_else(|| self.mercure_jwt_alg.clone()),
                })
            })
        };
        let shared = key(&self.mercure_jwt_key, &None)
            .or_else(|| self.mercure_jwks_url.clone().map(MercureKeys::KeySet));
        Ok(MercureConfig::resolve(
            shared,
            key(
                &self.mercure_publisher_jwt_key,
                &self.mercure_publisher_jwt_alg,
            ),
            key(
                &self.mercure_subscriber_jwt_key,
                &self.mercure_subscriber_jwt_alg,
            ),
            self.mercure_anonymous,
        )?)
    }
}

impl ListenArgs {
    async fn run(self) -> anyhow::Result<()> {
        init_logging(LogFormat::Text, "warn");
        let options = ListenOptions {
            base_url: self.url,
            types: self.types,
            topics: self.topics,
            token: self.token,
            last_event_id: self.last_event_id,
        };
        let cancel = cancel_on_signal()?;
        taskhub_client::listen(&options, &mut std::io::stdout(), &cancel).await?;
        Ok(())
    }
}

impl HistoryArgs {
    async fn run(self) -> anyhow::Result<()> {
        init_logging(LogFormat::Text, "warn");
        let options = HistoryOptions {
            base_url: self.url,
            types: self.types,
            topics: self.topics,
            since: self.since,
            after: self.after,
            newest_first: self.newest_first,
            limit: self.limit,
            follow: self.follow,
            token: self.token,
        };
        let cancel = cancel_on_signal()?;
        taskhub_client::history(&options, &mut std::io::stdout(), &cancel).await?;
        Ok(())
    }
}

/// A token cancelled by the first SIGINT or SIGTERM.
fn cancel_on_signal() -> anyhow::Result<CancellationToken> {
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    let signalled = shutdown_signal().context("cannot listen for SIGINT and SIGTERM")?;
    tokio::spawn(async move {
        signalled.await;
        on_signal.cancel();
    });
    Ok(cancel)
}

impl PublishArgs {
    async fn run(self) -> anyhow::Result<()> {
        let options = PublishOptions {
            base_url: self.url,
            event: self.event,
            data: self.data,
            topic: self.topic,
            token: self.token,
            idempotency_key: self.idempotency_key,
            retry_for: Duration::from_secs(self.retry_for_secs),
        };
        let answer = taskhub_client::publish(&options).await?;
        println!("{answer}");
        Ok(())
    }
}

impl TokenArgs {
    fn run(self) -> anyhow::Result<()> {
        self.check_secret()?;
        let expires = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
            + self.ttl_secs;
        let claim = if self.mercure { "mercure" } else { "taskhub" };
        let mut claims = serde_json::json!({
            "exp": expires,
            claim: { "subscribe": self.subscribe, "publish": self.publish },
        });
        if let Some(subject) = self.subject {
            claims["sub"] = subject.into();
        }
        let key = jsonwebtoken::EncodingKey::from_secret(self.secret.as_bytes());
        println!(
            "{}",
            jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key)?
        );
        Ok(())
    }
}

impl TokenArgs {
    /// Refuses a secret the server would refuse (a token signed with it could never be
    /// used): `--jwt-secret` needs [`MIN_SECRET_BYTES`]; a Mercure hub refuses an empty key
    /// and only warns about a short one, so `--mercure` does the same.
    fn check_secret(&self) -> anyhow::Result<()> {
        let length = self.secret.len();
        if self.mercure {
            if length == 0 {
                anyhow::bail!(
                    "the secret is empty: give the hub's --mercure-jwt-key with --secret \
                     (or TASKHUB_JWT_SECRET)"
                );
            }
            if length < MIN_SECRET_BYTES {
                eprintln!(
                    "warning: the secret is {length} bytes; an HMAC key shorter than \
                     {MIN_SECRET_BYTES} bytes can be guessed from any token it signed"
                );
            }
        } else if length < MIN_SECRET_BYTES {
            let given = if length == 0 {
                "empty (is TASKHUB_JWT_SECRET set?)".to_owned()
            } else {
                format!("{length} bytes")
            };
            anyhow::bail!(
                "the secret is {given}: the server's --jwt-secret is at least \
                 {MIN_SECRET_BYTES} bytes, and refuses tokens signed with anything else"
            );
        }
        Ok(())
    }
}

/// `--addr`: an IP:PORT, or a HOST:PORT resolved now (the first IPv4 address the name
/// has, else its first: `localhost` is 127.0.0.1, where the examples connect).
fn parse_addr(value: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = value.parse() {
        return Ok(addr);
    }
    let needs = "give IP:PORT or HOST:PORT, e.g. 127.0.0.1:8000";
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err(format!("{value:?} has no port: {needs}"));
    };
    let Ok(port) = port.parse::<u16>() else {
        return Err(format!("{port:?} is not a port number: {needs}"));
    };
    let resolved: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host:?} ({e}): {needs}"))?
        .collect();
    resolved
        .iter()
        .find(|addr| addr.is_ipv4())
        .or(resolved.first())
        .copied()
        .ok_or_else(|| format!("{host:?} resolves to no address: {needs}"))
}

/// A duration in whole milliseconds, as `--retry-ms` takes it.
const fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

/// An IP network (`10.0.0.0/8`) or a single address.
fn parse_network(value: &str) -> Result<IpNet, String> {
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{value:?} is neither an IP address nor a CIDR network"))
}

/// Logs go to stderr; `RUST_LOG` overrides the default level. Text is coloured only on a
/// terminal, and never with `NO_COLOR` set (https://no-color.org).
fn init_logging(format: LogFormat, default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let colour = colour_wanted(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// Whether log text gets ANSI colours: on a terminal, unless `NO_COLOR` is set to
/// anything but the empty string.
fn colour_wanted(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, None));
    }

    #[test]
    fn addresses_are_ip_and_port_or_a_resolvable_host_and_port() {
        assert_eq!(parse_addr("127.0.0.1:8000"), Ok(defaults::ADDR));
        assert_eq!(parse_addr("localhost:8000"), Ok(defaults::ADDR));
        assert_eq!(
            parse_addr("[::1]:8000").map(|a| a.is_ipv6()),
            Ok(true),
            "an IPv6 address stays one"
        );
        let no_port = parse_addr("localhost").expect_err("no port");
        assert!(no_port.contains("has no port"), "{no_port}");
        assert!(no_port.contains("127.0.0.1:8000"), "{no_port}");
        let bad_port = parse_addr("localhost:http").expect_err("no number");
        assert!(bad_port.contains("not a port number"), "{bad_port}");
        let unknown = parse_addr("no-such-host.invalid:8000").expect_err("unresolvable");
        assert!(unknown.contains("cannot resolve"), "{unknown}");
    }
}
