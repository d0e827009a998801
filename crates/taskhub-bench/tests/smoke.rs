//! A small smoke run of the tool against the real `taskhub` binary (found next to this
//! crate's binary, as `cargo test --workspace` builds it, or at `$TASKHUB_BIN`), started
//! fresh the way the benchmark starts it; against the in-test server when there is no
//! such binary. And a small `flood`, which needs the real binary (its header timeout).

mod support;

use std::path::PathBuf;
use std::time::Duration;

use taskhub_bench::flood::{self, FloodConfig, FloodPlan};
use taskhub_bench::progress::ProgressLine;
use taskhub_bench::publisher::{Pace, PublishPlan};
use taskhub_bench::run::{self, RunSpec};
use taskhub_bench::server::{self, ServerSetup};
use taskhub_bench::{Kind, Target};

const SUBSCRIBERS: usize = 50;

fn exe() -> PathBuf {
    env!("CARGO_BIN_EXE_taskhub-bench").into()
}

fn taskhub_bin() -> Option<PathBuf> {
    let candidate = std::env::var_os("TASKHUB_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| exe().with_file_name("taskhub"));
    candidate.is_file().then_some(candidate)
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("taskhub-bench-{name}-{}", std::process::id()))
}

fn free_port_block() -> u16 {
    // Four consecutive ports are taken by `ServerSetup`; TaskHub uses the first.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn spec() -> RunSpec {
    RunSpec {
        subscribers: SUBSCRIBERS,
        workers: 2,
        per_source: 25_000,
        source_net: 0,
        connect_rate: 0.0,
        connect_in_flight: 32,
        retries: 1,
        stall_fraction: 0.0,
        stall_recv_buffer: 4096,
        settle: Duration::from_millis(300),
        hold: Duration::ZERO,
        publish: Some(PublishPlan {
            publishers: 2,
            pace: Pace::Rate(200.0),
            batch: 1,
            // A cap, not the run's length: publishing ends once both publishers have sent
            // `max_events`. Paced at 200/s that takes a second, but each publish waits for
            // its acknowledgement, so a loaded machine (CI runs beside other builds) takes
            // longer: with a 2 s cap it once stopped at 152 of 200.
            duration: Duration::from_secs(60),
            pad: 0,
            request_timeout: Duration::from_secs(10),
            max_events: Some(100),
        }),
        drain_timeout: Duration::from_secs(10),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_run_delivers_everything_once_and_in_order() {
    let mut line = ProgressLine::new("[smoke]", true);
    let outcome = match taskhub_bin() {
        Some(bin) => {
            let scratch = scratch("smoke");
            let setup = ServerSetup {
                taskhub_bin: bin,
                taskhub_args: vec![],
                peers_dir: PathBuf::from("/nonexistent"),
                scratch: scratch.clone(),
                base_port: free_port_block(),
            };
            let running = server::start(Kind::Taskhub, &setup)
                .await
                .expect("taskhub starts");
            let pids = || running.pids();
            let outcome = run::measure(&exe(), &running.target, &pids, &spec(), &mut line).await;
            running.stop().await;
            let _ = std::fs::remove_dir_all(scratch);
            let outcome = outcome.expect("the run completes");
            assert!(outcome.server_processes >= 1);
            assert!(outcome.rss_loaded_kib > 0);
            outcome
        }
        None => {
            eprintln!("no taskhub binary found: smoke run against the in-test server");
            let addr = support::spawn(support::Faults::default()).await;
            let target = Target::local(Kind::Taskhub, addr.port());
            run::measure(&exe(), &target, &Vec::new, &spec(), &mut line)
                .await
                .expect("the run completes")
        }
    };
    assert_eq!(outcome.connected, SUBSCRIBERS, "{outcome:?}");
    assert_eq!(outcome.published, 200);
    assert_eq!(outcome.delivered, 200 * SUBSCRIBERS as u64, "{outcome:?}");
    assert_eq!(
        (
            outcome.lost,
            outcome.late,
            outcome.duplicates,
            outcome.out_of_order
        ),
        (0, 0, 0, 0)
    );
    assert!(outcome.deliveries_per_sec > 0.0);
    assert_eq!(outcome.latency.count, outcome.delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_flood_is_cut_and_its_memory_read() {
    let Some(bin) = taskhub_bin() else {
        eprintln!("no taskhub binary found: no flood");
        return;
    };
    let scratch = scratch("flood");
    let config = FloodConfig {
        plan: FloodPlan {
            streams: 20,
            slow_heads: 100,
            rounds: 2,
            connect_rate: 0.0,
            workers: 2,
            per_source: 25_000,
            after: Duration::from_secs(1),
            slack_kib: 20 * 1024,
        },
        setup: ServerSetup {
            taskhub_bin: bin,
            // The shortest header timeout there is: each round lasts about a second.
            taskhub_args: vec!["--header-timeout-secs".into(), "1".into()],
            peers_dir: PathBuf::from("/nonexistent"),
            scratch: scratch.clone(),
            base_port: free_port_block(),
        },
        exe: exe(),
        quiet: true,
    };
    let outcome = flood::run(&config).await;
    let _ = std::fs::remove_dir_all(scratch);
    let outcome = outcome.expect("the flood completes");
    assert_eq!(outcome.streams_connected, 20, "{outcome:?}");
    assert_eq!(outcome.rounds.len(), 2);
    for round in &outcome.rounds {
        assert_eq!(
            (round.opened, round.failed, round.cut),
            (100, 0, 100),
            "{outcome:?}"
        );
        assert!((1..=100).contains(&round.most_open), "{outcome:?}");
    }
    assert!(outcome.rss_start_kib > 0);
    assert!(outcome.rss_peak_kib >= outcome.rss_start_kib.max(outcome.rss_left_kib));
    assert!(!outcome.rss_after_series.is_empty());
    assert_eq!(outcome.bound_kib, outcome.rss_start_kib + 20 * 1024);
    assert_eq!(outcome.met, outcome.rss_after_kib <= outcome.bound_kib);
    assert!(flood::table(&outcome).contains("| 1 | 100/100 | "));
}
