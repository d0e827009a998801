//! `taskhub-bench`: flags in, the library out. See `taskhub-bench --help`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use taskhub_bench::flood::{self, FloodConfig, FloodPlan};
use taskhub_bench::history::{self, HistoryPlan};
use taskhub_bench::load::{self, LoadConfig};
use taskhub_bench::output::{self, Outputs};
use taskhub_bench::presence::{self, PresenceConfig, PresencePlan};
use taskhub_bench::publisher::{Pace, PublishPlan};
use taskhub_bench::run::RunSpec;
use taskhub_bench::scenario::{Name, Size};
use taskhub_bench::server::ServerSetup;
use taskhub_bench::suite::{self, SuiteConfig};
use taskhub_bench::{Kind, PresenceMode, Target, worker};

/// Load generator for SSE fan-out servers: TaskHub and its peers, side by side.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the scenarios against each server in turn (fresh server for each), print
    /// the tables and judge the bars.
    Suite(SuiteArgs),
    /// One measurement against a server that is already running.
    Load(LoadArgs),
    /// A connection flood against a fresh TaskHub (event streams held beside rounds of
    /// slow request heads), then whether its RSS, some seconds after every client left,
    /// is back within a bound of its RSS at start.
    Flood(FloodArgs),
    /// The history API against a fresh TaskHub: page-read throughput, and publish latency
    /// before and during a large trim by age.
    History(HistoryArgs),
    /// What presence costs a fresh TaskHub: present streams opened at a rate (every
    /// connect a join), the bookkeeping's lag behind them, GET /presence with them all
    /// present, and their leaves.
    Presence(PresenceArgs),
    /// (internal) A subscriber worker process, driven over stdin/stdout.
    #[command(hide = true)]
    Worker,
}

#[derive(Debug, Args)]
struct SuiteArgs {
    /// Servers, in the order they run: taskhub, nchan, pushpin, seed.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "taskhub,nchan,pushpin,seed"
    )]
    servers: Vec<Kind>,
    /// Scenarios: fanout, burst, idle, stall, publish.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fanout,burst,idle,stall,publish"
    )]
    scenarios: Vec<Name>,
    /// Multiplies every connection count (1: the 10k / 1k / 19,800).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Multiplies every duration.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    taskhub: TaskhubArgs,
    /// Directory holding the peers (seed-fastapi/, nchan/, pushpin/).
    #[arg(long, default_value = "../shared/peers")]
    peers_dir: PathBuf,
    /// Also write the tables (Markdown) to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Also write the latency plot (SVG) to this file.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Also write the results (JSON) to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// TaskHub's subscribers filter on the events' topic and are present on it (`on`) or
    /// not (`off`: the same filter with presence=false): an A/B of presence's cost.
    /// Without it they take every event, unfiltered, as before.
    #[arg(long, value_enum)]
    presence: Option<PresenceMode>,
}

/// How the fresh TaskHub servers are started.
#[derive(Debug, Args)]
struct TaskhubArgs {
    /// The taskhub binary [default: `taskhub` next to this binary].
    #[arg(long)]
    taskhub_bin: Option<PathBuf>,
    /// An extra flag for `taskhub serve` (repeatable).
    #[arg(long = "taskhub-arg", allow_hyphen_values = true)]
    taskhub_args: Vec<String>,
    /// For TaskHub's database and log.
    #[arg(long, default_value = "/tmp/taskhub-bench")]
    scratch: PathBuf,
    /// TaskHub listens here, the seed on +1, nchan +2, pushpin +3 (its origin +13).
    #[arg(long, default_value_t = 18000)]
    base_port: u16,
}

impl TaskhubArgs {
    fn setup(self, exe: &std::path::Path, peers_dir: PathBuf) -> ServerSetup {
        ServerSetup {
            taskhub_bin: self
                .taskhub_bin
                .unwrap_or_else(|| exe.with_file_name("taskhub")),
            taskhub_args: self.taskhub_args,
            peers_dir,
            scratch: self.scratch,
            base_port: self.base_port,
        }
    }
}

#[derive(Debug, Args)]
struct FloodArgs {
    /// Event streams held through the rounds.
    #[arg(long, default_value_t = 3_000)]
    streams: usize,
    /// Slow request heads per round, all open at once until the server cuts them.
    #[arg(long, default_value_t = 15_000)]
    slow_heads: usize,
    /// Rounds of slow heads.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// New connections per second (0: as fast as 256 attempts in flight allow).
    #[arg(long, default_value_t = 0.0)]
    connect_rate: f64,
    /// Seconds after the last client left at which the RSS is held against the bound.
    #[arg(long, default_value_t = 15.0)]
    after_secs: f64,
    /// The bound: the RSS at start plus this many MiB.
    #[arg(long, default_value_t = 20)]
    slack_mib: u64,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    taskhub: TaskhubArgs,
}

#[derive(Debug, Args)]
struct HistoryArgs {
    /// Events filled, read as pages, then trimmed when they expire.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// The server's --history-max-age, in seconds (the fill must take less).
    #[arg(long, default_value_t = 30)]
    max_age_secs: u64,
    /// Publishers beside the trim, each one request at a time.
    #[arg(long, default_value_t = 4)]
    publishers: usize,
    /// Publishes per second beside the trim, all publishers together.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    taskhub: TaskhubArgs,
}

#[derive(Debug, Args)]
struct PresenceArgs {
    /// Present streams opened and held.
    #[arg(long, default_value_t = 10_000)]
    streams: usize,
    /// New connections per second, all workers together.
    #[arg(long, default_value_t = 5_000.0)]
    connect_rate: f64,
    /// The server's --presence-grace-secs.
    #[arg(long, default_value_t = 1)]
    grace_secs: u64,
    /// GET /presence calls timed with every stream present.
    #[arg(long, default_value_t = 20)]
    listings: usize,
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    taskhub: TaskhubArgs,
}

#[derive(Debug, Args)]
struct Common {
    /// Subscriber worker processes (more are used when one would exceed 15,000 sockets)
    /// [default: the number of cores].
    #[arg(long)]
    workers: Option<usize>,
    /// Connections per source address (127.0.x.1, .2, …) [default: 25,000, below the
    /// ephemeral ports of one address; `flood`: 1,000].
    #[arg(long)]
    per_source: Option<usize>,
    /// Print the results as JSON on stdout instead of tables.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// The server's protocol: taskhub, nchan, pushpin, seed.
    #[arg(long)]
    target: Kind,
    /// Port of its usual local URLs (pushpin publishes on 5561).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// The SSE stream URL [default: the usual one for --target on --port].
    #[arg(long)]
    url: Option<String>,
    /// The publish URL [default: the usual one for --target on --port].
    #[arg(long)]
    publish_url: Option<String>,
    /// SSE connections.
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// Events per second, all publishers together.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Publish as fast as subscribers keep up: at most this many events ahead of the
    /// slowest one (overrides --rate).
    #[arg(long)]
    window: Option<u64>,
    /// Publish as fast as the server acknowledges (overrides --rate).
    #[arg(long)]
    open: bool,
    /// Do not publish: hold the connections for --duration and read memory.
    #[arg(long)]
    no_publish: bool,
    /// Seconds of publishing (or of holding, with --no-publish).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many events per publisher (even before --duration).
    #[arg(long)]
    events: Option<u64>,
    /// Concurrent publishers (each one request at a time).
    #[arg(long, default_value_t = 1)]
    publishers: usize,
    /// Events per publish request (taskhub and pushpin take up to 1000).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Bytes of padding in each event.
    #[arg(long, default_value_t = 0)]
    pad: usize,
    /// Fraction of subscribers that never read.
    #[arg(long, default_value_t = 0.0)]
    stall_fraction: f64,
    /// New connections per second.
    #[arg(long, default_value_t = 2000.0)]
    connect_rate: f64,
    /// Seconds to wait for deliveries after publishing ends.
    #[arg(long, default_value_t = 20.0)]
    drain: f64,
    /// A server process id to read CPU and memory from (repeatable; children included).
    #[arg(long = "pid")]
    pids: Vec<u32>,
    /// TaskHub: subscribers filter on the events' topic and are present on it (`on`) or
    /// not (`off`); applied to the usual URLs, before --url and --publish-url.
    #[arg(long, value_enum)]
    presence: Option<PresenceMode>,
    #[command(flatten)]
    common: Common,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Worker => worker::run_stdio().context("worker failed"),
        Command::Suite(args) => runtime()?.block_on(suite(args)),
        Command::Load(args) => runtime()?.block_on(load(args)),
        Command::Flood(args) => runtime()?.block_on(flood(args)),
        Command::History(args) => runtime()?.block_on(history(args)),
        Command::Presence(args) => runtime()?.block_on(presence(args)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

/// Connections per source address, below the 28,232 ephemeral ports of one address.
const PER_SOURCE: usize = 25_000;

fn workers(common: &Common) -> usize {
    common
        .workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from))
}

async fn suite(args: SuiteArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot locate this binary")?;
    let config = SuiteConfig {
        servers: args.servers,
        scenarios: args.scenarios,
        size: Size {
            scale: args.scale,
            time_scale: args.time_scale,
            workers: workers(&args.common),
            per_source: args.common.per_source.unwrap_or(PER_SOURCE),
        },
        setup: args.taskhub.setup(&exe, args.peers_dir),
        exe,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        quiet: args.common.quiet,
        presence: args.presence,
    };
    let result = suite::run(&config).await;
    let outputs = Outputs {
        markdown: args.markdown,
        plot: args.plot,
        json: args.json_out,
        json_on_stdout: args.common.json,
    };
    output::emit(&result, &outputs).context("cannot write the results")
}

async fn load(args: LoadArgs) -> anyhow::Result<()> {
    if !(0.0..1.0).contains(&args.stall_fraction) {
        bail!("--stall-fraction must be in [0, 1)");
    }
    let mut target = Target::local(args.target, args.port).with_presence(args.presence);
    if let Some(url) = args.url {
        target.subscribe = url;
    }
    if let Some(url) = args.publish_url {
        target.publish = url;
    }
    let pace = match (args.open, args.window) {
        (true, _) => Pace::Open,
        (false, Some(window)) => Pace::Window(window),
        (false, None) => Pace::Rate(args.rate),
    };
    let duration = Duration::from_secs_f64(args.duration.max(0.0));
    let publish = (!args.no_publish).then(|| PublishPlan {
        publishers: args.publishers,
        pace,
        batch: args.batch,
        duration,
        pad: args.pad,
        request_timeout: Duration::from_secs(30),
        max_events: args.events,
    });
    let spec = RunSpec {
        subscribers: args.subscribers,
        workers: workers(&args.common),
        per_source: args.common.per_source.unwrap_or(PER_SOURCE),
        source_net: 0,
        connect_rate: args.connect_rate,
        connect_in_flight: 256,
        retries: 2,
        stall_fraction: args.stall_fraction,
        stall_recv_buffer: 4096,
        settle: Duration::from_secs(1),
        hold: if args.no_publish {
            duration
        } else {
            Duration::ZERO
        },
        publish,
        drain_timeout: Duration::from_secs_f64(args.drain.max(0.0)),
    };
    let config = LoadConfig {
        target,
        spec,
        pids: args.pids,
        exe: std::env::current_exe().context("cannot locate this binary")?,
        quiet: args.common.quiet,
    };
    let outcome = load::run(&config).await?;
    load::emit(&config, &outcome, args.common.json).context("cannot print the results")
}

async fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot locate this binary")?;
    let plan = HistoryPlan {
        events: args.events,
        max_age_secs: args.max_age_secs,
        publishers: args.publishers.max(1),
        rate: args.rate,
    };
    let setup = args.taskhub.setup(&exe, PathBuf::new());
    let outcome = history::run(&setup, &plan).await?;
    history::emit(&outcome, args.common.json).context("cannot print the results")
}

async fn flood(args: FloodArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot locate this binary")?;
    let config = FloodConfig {
        plan: FloodPlan {
            streams: args.streams,
            slow_heads: args.slow_heads,
            rounds: args.rounds,
            connect_rate: args.connect_rate,
            workers: workers(&args.common),
            // Binding thousands of sockets to one address, port 0, costs the kernel a longer
            // search each time: at 15,000 on one address a round took longer to open than
            // the header timeout, and some binds failed.
            per_source: args.common.per_source.unwrap_or(1_000),
            after: Duration::from_secs_f64(args.after_secs.max(0.0)),
            slack_kib: args.slack_mib * 1024,
        },
        // A flood starts no peer.
        setup: args.taskhub.setup(&exe, PathBuf::new()),
        exe,
        quiet: args.common.quiet,
    };
    let outcome = flood::run(&config).await?;
    flood::emit(&outcome, args.common.json).context("cannot print the results")
}

async fn presence(args: PresenceArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot locate this binary")?;
    let config = PresenceConfig {
        plan: PresencePlan {
            streams: args.streams,
            connect_rate: args.connect_rate,
            grace_secs: args.grace_secs,
            listings: args.listings.max(1),
            workers: workers(&args.common),
            per_source: args.common.per_source.unwrap_or(PER_SOURCE),
        },
        // Presence starts no peer.
        setup: args.taskhub.setup(&exe, PathBuf::new()),
        exe,
        quiet: args.common.quiet,
    };
    let outcome = presence::run(&config).await?;
    presence::emit(&outcome, args.common.json).context("cannot print the results")
}
