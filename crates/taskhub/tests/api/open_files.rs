//! At the open-file limit. Each test starts `taskhub serve` under `ulimit -n 64`, which
//! leaves a budget of a dozen or so client connections. Past the budget less its reserve,
//! streams get 503 while `/healthz`, `/readyz` and `/metrics` still answer. With every
//! slot taken, new connections wait for one instead of failing. When `accept` does fail
//! for lack of descriptors (here because the limit is lowered under the running server
//! with `prlimit`), the server backs off, logs it once per interval and recovers.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{
    LoggedServer, PATIENCE, Sse, metrics, problem, serve_command, with_open_file_limit,
};

/// The open-file limit the servers run under.
const OPEN_FILES: u32 = 64;

/// The server's minimum time between two log lines about the same trouble.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

fn start() -> LoggedServer {
    LoggedServer::start_with_open_file_limit(
        &["--connect-rate", "0", "--header-timeout-secs", "5"],
        "info",
        OPEN_FILES,
    )
}

/// The server's `host:port`.
fn address(server: &LoggedServer) -> &str {
    server.address.trim_start_matches("http://")
}

/// `GET path` on a connection of its own, as a health checker makes it.
async fn get_fresh(server: &LoggedServer, path: &str) -> reqwest::Response {
    answer(reqwest::Client::new().get(server.url(path))).await
}

/// The response's head, which must come within [`PATIENCE`].
async fn answer(request: reqwest::RequestBuilder) -> reqwest::Response {
    tokio::time::timeout(PATIENCE, request.send())
        .await
        .expect("answered in time")
        .expect("answered")
}

/// Opens streams until one is refused; returns the open ones and the refusal.
async fn streams_until_refused(server: &LoggedServer) -> (Vec<Sse>, reqwest::Response) {
    let client = reqwest::Client::new();
    let mut open = Vec::new();
    loop {
        let response = answer(client.get(server.url("/events/stream"))).await;
        if response.status() != 200 {
            return (open, response);
        }
        open.push(Sse::new(response).connected().await);
        assert!(
            open.len() <= OPEN_FILES as usize,
            "{} streams and none refused",
            open.len()
        );
    }
}

/// The log lines whose message starts with `start`.
fn logged(server: &LoggedServer, start: &str) -> Vec<Value> {
    server
        .lines()
        .into_iter()
        .filter(|line| {
            line["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(start))
        })
        .collect()
}

/// Opens streams until one is accepted, each refusal a 503.
async fn await_stream(server: &LoggedServer) -> Sse {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let response = get_fresh(server, "/events/stream").await;
        if response.status() == 200 {
            return Sse::new(response).connected().await;
        }
        assert_eq!(response.status(), 503);
        assert!(Instant::now() < deadline, "no stream was served again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn at_the_limit_streams_are_refused_and_health_checks_and_metrics_still_answer() {
    let server = start();
    let started = Instant::now();
    // Nothing else connected meanwhile, so the streams reach the budget less its reserve.
    let (streams, refused) = streams_until_refused(&server).await;
    let limit = metrics(&server.address).await["taskhub_connections_limit"];
    assert!(limit >= 8.0, "{limit}");
    assert!(
        (streams.len() as f64) < limit,
        "streams stop short of the budget"
    );
    assert_eq!(refused.headers()["retry-after"], "3");
    // Its connection was accepted into the reserve, so it is not kept open.
    assert_eq!(refused.headers()["connection"], "close");
    let problem = problem(refused, 503).await;
    assert_eq!(
        problem["type"],
        "https://taskhub.dev/problems/too-many-connections"
    );

    // At the limit, the reserve answers short requests, one after another.
    for _ in 0..3 {
        for path in ["/healthz", "/readyz", "/metrics"] {
            assert_eq!(get_fresh(&server, path).await.status(), 200, "{path}");
        }
    }
    // A connection in the reserve is served for a moment (1 s), then closed, rather than
    // kept for a keep-alive's idle time (here the header timeout, 5 s).
    let mut socket = TcpStream::connect(address(&server))
        .await
        .expect("connected");
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: taskhub\r\n\r\n")
        .await
        .expect("sent");
    let asked = Instant::now();
    let mut wire = Vec::new();
    tokio::time::timeout(PATIENCE, socket.read_to_end(&mut wire))
        .await
        .expect("closed in time")
        .expect("read");
    assert!(wire.starts_with(b"HTTP/1.1 200"), "{wire:?}");
    let closed_after = asked.elapsed();
    assert!(closed_after < Duration::from_secs(3), "{closed_after:?}");

    let samples = metrics(&server.address).await;
    assert!(samples["taskhub_streams_rejected_reserve_total"] >= 1.0);
    assert_eq!(samples["taskhub_streams_rejected_total"], 0.0);
    assert_eq!(samples["taskhub_streams_open"], streams.len() as f64);
    assert_eq!(samples["taskhub_accept_out_of_descriptors_total"], 0.0);

    // Connections that send nothing take the rest of the reserve, and two more wait in
    // the backlog. A health check waits behind them until the first ones time out (the
    // header timeout, 5 s), instead of failing.
    let free = limit - metrics(&server.address).await["taskhub_connections_open"];
    let mut idle = Vec::new();
    for _ in 0..free as usize + 2 {
        idle.push(
            TcpStream::connect(address(&server))
                .await
                .expect("connected"),
        );
    }
    assert_eq!(get_fresh(&server, "/healthz").await.status(), 200);
    let samples = metrics(&server.address).await;
    assert!(samples["taskhub_connections_deferred_total"] >= 1.0);
    assert!(samples["taskhub_connections_open"] <= limit);
    assert_eq!(samples["taskhub_accept_out_of_descriptors_total"], 0.0);
    let waits = logged(&server, "every connection slot");
    let intervals = (started.elapsed().as_secs_f64() / LOG_INTERVAL.as_secs_f64()).ceil();
    assert!(
        !waits.is_empty() && waits.len() as f64 <= intervals,
        "{waits:?}"
    );

    // Once the streams close, streams are served again.
    drop((streams, idle));
    await_stream(&server).await;
}

#[tokio::test]
async fn accept_out_of_descriptors_backs_off_logs_once_per_interval_and_recovers() {
    let server = start();
    let streams = [await_stream(&server).await, await_stream(&server).await];

    // Every descriptor number below 8 is long taken (stdio, the poller, the store, the
    // listener): from here on the server cannot open one.
    prlimit(&server, "8:64");
    let waiting = tokio::spawn({
        let url = server.url("/healthz");
        async move { reqwest::get(url).await.expect("answered").status() }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let lines = logged(&server, "accept failed");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "WARN");
    assert_eq!(lines[0]["failures"], 1, "{lines:?}");
    assert!(!waiting.is_finished(), "nothing can be accepted");

    // Descriptors again: the waiting request is accepted within the longest pause (1 s).
    prlimit(&server, "64:64");
    let status = tokio::time::timeout(PATIENCE, waiting)
        .await
        .expect("answered once descriptors are free")
        .expect("the request task");
    assert_eq!(status, 200);
    let failures = metrics(&server.address).await["taskhub_accept_out_of_descriptors_total"];
    // 3 s of pauses from 5 ms, doubling up to 1 s: about ten failures, one line.
    assert!((5.0..30.0).contains(&failures), "{failures}");
    assert_eq!(logged(&server, "accept failed").len(), 1);

    drop(streams);
    await_stream(&server).await;
}

#[test]
fn a_limit_that_leaves_too_little_room_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("dir");
    let serve = serve_command(dir.path(), "127.0.0.1:0");
    let output = with_open_file_limit(&serve, 40).output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("the open-file limit (ulimit -n) is 40"),
        "{stderr}"
    );
}

/// Sets the server's open-file limit (`soft:hard`) with `prlimit(1)`.
fn prlimit(server: &LoggedServer, limits: &str) {
    let status = Command::new("prlimit")
        .args([
            "--pid",
            &server.pid().to_string(),
            &format!("--nofile={limits}"),
        ])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success(), "prlimit --nofile={limits}");
}
