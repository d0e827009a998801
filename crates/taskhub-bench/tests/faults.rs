//! The load generator against a deliberately faulty server: it must count every lost,
//! duplicated, reordered and undelivered event exactly, through the real worker
//! processes, chunked decoding and SSE parsing.

mod support;

use std::time::Duration;

use support::Faults;
use taskhub_bench::load::{self, LoadConfig};
use taskhub_bench::publisher::{Pace, PublishPlan};
use taskhub_bench::run::{Outcome, RunSpec};
use taskhub_bench::{Kind, Target};

const SUBSCRIBERS: usize = 20;
const EVENTS: u64 = 100;

async fn run_against(faults: Faults) -> Outcome {
    let addr = support::spawn(faults).await;
    let config = LoadConfig {
        target: Target::local(Kind::Taskhub, addr.port()),
        spec: RunSpec {
            subscribers: SUBSCRIBERS,
            workers: 2,
            per_source: 25_000,
            source_net: 0,
            connect_rate: 0.0,
            connect_in_flight: 16,
            retries: 0,
            stall_fraction: 0.0,
            stall_recv_buffer: 4096,
            settle: Duration::from_millis(200),
            hold: Duration::ZERO,
            publish: Some(PublishPlan {
                publishers: 1,
                pace: Pace::Rate(1000.0),
                batch: 1,
                duration: Duration::from_secs(10),
                pad: 0,
                request_timeout: Duration::from_secs(5),
                max_events: Some(EVENTS),
            }),
            drain_timeout: Duration::from_secs(5),
        },
        pids: vec![],
        exe: env!("CARGO_BIN_EXE_taskhub-bench").into(),
        quiet: true,
    };
    load::run(&config).await.expect("the run completes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_server_gets_a_clean_bill() {
    let o = run_against(Faults::default()).await;
    assert_eq!(o.connected, SUBSCRIBERS);
    assert_eq!(o.published, EVENTS);
    assert_eq!(o.expected, EVENTS * SUBSCRIBERS as u64);
    assert_eq!(o.delivered, o.expected, "{o:?}");
    assert_eq!((o.lost, o.late, o.duplicates, o.out_of_order), (0, 0, 0, 0));
    assert_eq!(o.latency.count, o.delivered);
    assert!(
        o.latency.p99_ms > 0.0 && o.latency.p99_ms < 1000.0,
        "{:?}",
        o.latency
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detects_loss_duplicates_and_reordering() {
    let o = run_against(Faults {
        drop: true,
        duplicate: true,
        reorder: true,
        close_after: None,
    })
    .await;
    let per_subscriber = EVENTS / 10;
    let subs = SUBSCRIBERS as u64;
    assert_eq!(o.lost, per_subscriber * subs, "{o:?}");
    assert_eq!(o.duplicates, per_subscriber * subs);
    assert_eq!(o.out_of_order, per_subscriber * subs);
    assert_eq!(o.late, 0);
    assert_eq!(o.delivered, (EVENTS - per_subscriber) * subs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_what_a_cut_off_stream_never_got() {
    let o = run_against(Faults {
        close_after: Some(40),
        ..Faults::default()
    })
    .await;
    let subs = SUBSCRIBERS as u64;
    assert_eq!(o.closed_early, SUBSCRIBERS, "{o:?}");
    assert_eq!(o.delivered, 40 * subs);
    assert_eq!(o.late, (EVENTS - 40) * subs);
    assert_eq!(o.lost, 0);
}
