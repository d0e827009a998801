//! Command-line flags. Every `serve` setting is also a `TASKHUB_*` environment variable.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use taskhub_server::{Config, Server, SlowClientPolicy, shutdown_signal};
use taskhub_store::DatabaseUrl;
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
    /// Run the server on its embedded SQLite store.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TASKHUB_ADDR", default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// Where events and tasks are stored: `sqlite://FILE`.
    #[arg(
        long,
        env = "TASKHUB_DATABASE_URL",
        default_value = "sqlite://taskhub.db"
    )]
    database_url: DatabaseUrl,
    /// Listen on a non-loopback address with authentication off.
    #[arg(long, env = "TASKHUB_ALLOW_UNAUTHENTICATED")]
    allow_unauthenticated: bool,
    /// Most open event streams; more get 503 with Retry-After.
    #[arg(long, env = "TASKHUB_MAX_CLIENTS", default_value_t = 10_000)]
    max_clients: usize,
    /// Seconds of silence after which a stream gets a `: keepalive` comment.
    #[arg(long, env = "TASKHUB_KEEPALIVE_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    keepalive_secs: u64,
    /// Reconnection delay advised to clients (the `retry:` field), in milliseconds.
    #[arg(long, env = "TASKHUB_RETRY_MS", default_value_t = 3000)]
    retry_ms: u64,
    /// Undelivered events a subscriber may fall behind before the slow-client policy applies.
    #[arg(long, env = "TASKHUB_CLIENT_BUFFER", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    client_buffer: u64,
    /// What happens to a subscriber whose buffer is full.
    #[arg(long, env = "TASKHUB_SLOW_CLIENT_POLICY", value_enum, default_value_t = Policy::Disconnect)]
    slow_client_policy: Policy,
    /// Newest events kept for replay with Last-Event-ID.
    #[arg(long, env = "TASKHUB_HISTORY_SIZE", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    history_size: u64,
    /// Largest request body, in bytes.
    #[arg(long, env = "TASKHUB_MAX_BODY_BYTES", default_value_t = 1_048_576)]
    max_body_bytes: usize,
    /// Largest `data` of one event, in bytes of JSON.
    #[arg(long, env = "TASKHUB_MAX_EVENT_BYTES", default_value_t = 65_536)]
    max_event_bytes: usize,
    /// Seconds to wait for streams and requests to finish on SIGTERM/SIGINT.
    #[arg(long, env = "TASKHUB_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    shutdown_grace_secs: u64,
    /// Seconds a client has to send a request's headers (slow clients are cut off).
    #[arg(long, env = "TASKHUB_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_secs: u64,
    /// Largest request head (request line and headers), in bytes; at least 8192.
    #[arg(long, env = "TASKHUB_MAX_HEADER_BYTES", default_value_t = 16_384, value_parser = clap::value_parser!(u64).range(8192..=1_048_576))]
    max_header_bytes: u64,
    /// Log format.
    #[arg(long, env = "TASKHUB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Policy {
    Disconnect,
    DropOldest,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl Cli {
    pub(crate) async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => args.run().await,
        }
    }
}

impl ServeArgs {
    async fn run(self) -> anyhow::Result<()> {
        init_logging(self.log_format);
        let config = Config {
            addr: self.addr,
            database_url: self.database_url,
            allow_unauthenticated: self.allow_unauthenticated,
            max_clients: self.max_clients,
            keepalive: Duration::from_secs(self.keepalive_secs),
            retry: Duration::from_millis(self.retry_ms),
            client_buffer: usize::try_from(self.client_buffer)?,
            slow_client_policy: match self.slow_client_policy {
                Policy::Disconnect => SlowClientPolicy::Disconnect,
                Policy::DropOldest => SlowClientPolicy::DropOldest,
            },
            history_size: self.history_size,
            max_body_bytes: self.max_body_bytes,
            max_event_bytes: self.max_event_bytes,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            header_read_timeout: Duration::from_secs(self.header_timeout_secs),
            max_header_bytes: usize::try_from(self.max_header_bytes)?,
        };
        let server = Server::bind(config)
            .await
            .context("cannot start the server")?;
        server.run(shutdown_signal()).await;
        Ok(())
    }
}

/// Logs go to stderr; `RUST_LOG` overrides the default level (`info`).
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
