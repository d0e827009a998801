//! What an operator sees: `/metrics` in Prometheus text, counting what happened, each
//! series explained in docs/metrics.md; request ids in headers and in the JSON logs; and
//! no log line per event.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{LoggedServer, PATIENCE, SqliteLock, TestApp, metrics, spawn_app_with};
use crate::scripts::repo_root;

/// Polls `/metrics` until `series` reaches `value`.
async fn await_metric(address: &str, series: &str, value: f64) -> HashMap<String, f64> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let samples = metrics(address).await;
        if samples.get(series) == Some(&value) {
            return samples;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{series} never reached {value}: {samples:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metrics_count_streams_events_deliveries_replays_and_resets() {
    let app = spawn_app_with(&["--keepalive-secs", "1"]).await;
    let before = metrics(&app.address).await;
    for series in [
        "taskhub_streams_open",
        "taskhub_events_published_total",
        "taskhub_events_delivered_total",
        "taskhub_slow_client_disconnects_total",
        "taskhub_lagged_events_total",
        "taskhub_gaps_total",
        "taskhub_replays_total",
        "taskhub_resets_total",
        "taskhub_store_errors_total",
        "taskhub_streams_rejected_total",
        "taskhub_streams_rejected_reserve_total",
        "taskhub_connections_deferred_total",
        "taskhub_accept_out_of_descriptors_total",
        "taskhub_publish_duration_seconds_count",
        "taskhub_publish_duration_seconds_bucket{le=\"+Inf\"}",
    ] {
        assert_eq!(before.get(series), Some(&0.0), "{series} starts at 0");
    }

    let mut live = app.subscribe("", None).await.connected().await;
    app.publish_batch(0, 2).await;
    app.publish("tick", json!({"n": 2}), None).await;
    assert_eq!(live.ids(3).await, ["1", "2", "3"]);
    let mut resumed = app.subscribe("", Some("1")).await.connected().await;
    assert_eq!(resumed.ids(2).await, ["2", "3"]);
    let reset = app.subscribe("", Some("not-an-id")).await.connected().await;

    let open = metrics(&app.address).await;
    assert_eq!(open["taskhub_streams_open"], 3.0);
    assert_eq!(open["taskhub_streams_opened_total"], 3.0);
    assert_eq!(open["taskhub_events_published_total"], 3.0);
    assert_eq!(open["taskhub_replays_total"], 1.0);
    assert_eq!(open["taskhub_resets_total"], 1.0);
    assert_eq!(open["taskhub_publish_duration_seconds_count"], 2.0);
    assert!(open["taskhub_publish_duration_seconds_sum"] > 0.0);

    // Deliveries are added up when a stream ends (or every 64): 3 live + 2 replayed.
    drop((live, resumed, reset));
    let closed = await_metric(&app.address, "taskhub_streams_open", 0.0).await;
    assert_eq!(closed["taskhub_events_delivered_total"], 5.0);
}

#[tokio::test]
async fn every_series_is_documented() {
    let app = spawn_app_with(&[]).await;
    let text = app.get("/metrics").await.text().await.expect("text");
    let docs = std::fs::read_to_string(repo_root().join("docs/metrics.md")).expect("read");
    let families: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    assert!(families.len() > 10, "{text}");
    for family in families {
        assert!(
            docs.contains(&format!("| `{family}` |")),
            "{family} has no row in docs/metrics.md"
        );
    }
}

#[tokio::test]
async fn metrics_count_slow_client_disconnects_rejections_and_store_errors() {
    let app = spawn_app_with(&["--client-buffer", "8", "--max-clients", "2"]).await;
    let mut stalled = app.subscribe("", None).await.connected().await;
    let mut second = app.subscribe("", None).await.connected().await;
    let refused = app.get("/events/stream").await;
    assert_eq!(refused.status(), 503);

    // Neither stream reads: large events overflow the socket buffers, then the ring.
    let payload = "x".repeat(60_000);
    for start in (0..1000).step_by(16) {
        let batch: Vec<Value> = (start..start + 16)
            .map(|n| json!({"event": "big", "data": {"n": n, "pad": payload}}))
            .collect();
        assert_eq!(app.post_events(&Value::Array(batch)).await.status(), 202);
    }
    // Reading again, each finds it fell behind and its stream ends.
    for sse in [&mut stalled, &mut second] {
        while sse.next().await.is_some() {}
    }
    let samples = await_metric(&app.address, "taskhub_slow_client_disconnects_total", 2.0).await;
    assert!(samples["taskhub_lagged_events_total"] >= 2.0);
    assert_eq!(samples["taskhub_streams_rejected_total"], 1.0);
    let samples = await_metric(&app.address, "taskhub_streams_open", 0.0).await;
    assert_eq!(samples["taskhub_write_timeouts_total"], 0.0);
    store_errors_are_counted(&app).await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_after_the_write_timeout() {
    // A ring that holds everything: falling behind cannot be what ends the stream.
    let app = spawn_app_with(&["--client-buffer", "100000", "--write-timeout-secs", "1"]).await;
    let _stalled = app.subscribe("", None).await.connected().await;
    let mut reading = app.subscribe("", None).await.connected().await;
    let reader = tokio::spawn(async move { reading.ids(320).await.len() });
    let payload = "x".repeat(60_000);
    for start in (0..320).step_by(16) {
        let batch: Vec<Value> = (start..start + 16)
            .map(|n| json!({"event": "big", "data": {"n": n, "pad": payload}}))
            .collect();
        assert_eq!(app.post_events(&Value::Array(batch)).await.status(), 202);
    }
    assert_eq!(
        reader.await.expect("reader"),
        320,
        "the reading client got everything"
    );
    // Its socket full, the stalled client is cut off a second later.
    let samples = await_metric(&app.address, "taskhub_write_timeouts_total", 1.0).await;
    assert_eq!(samples["taskhub_slow_client_disconnects_total"], 0.0);
    let samples = await_metric(&app.address, "taskhub_streams_open", 0.0).await;
    assert_eq!(samples["taskhub_write_timeouts_total"], 1.0);
}

async fn store_errors_are_counted(app: &TestApp) {
    // Locks the SQLite file; in cluster mode there is none to lock.
    if !crate::helpers::backend_is_sqlite() {
        return;
    }
    let path = app.dir.path().join("taskhub.db");
    let lock = SqliteLock::take(path);
    let failed = app.post_events(&json!({"event": "lost", "data": 1})).await;
    assert_eq!(failed.status(), 503);
    lock.release();
    assert_eq!(
        metrics(&app.address).await["taskhub_store_errors_total"],
        1.0
    );
}

#[tokio::test]
async fn every_response_has_a_request_id_and_its_log_lines_carry_it() {
    let server = LoggedServer::start(&["--max-clients", "1"], "info");
    let client = reqwest::Client::new();
    let stream = format!("{}/events/stream", server.address);
    let _held = client.get(&stream).send().await.expect("first stream");
    let refused = client.get(&stream).send().await.expect("sent");
    assert_eq!(refused.status(), 503);
    let id = refused.headers()["x-request-id"]
        .to_str()
        .expect("text")
        .to_owned();

    let deadline = std::time::Instant::now() + PATIENCE;
    let logged = loop {
        let found = server
            .lines()
            .into_iter()
            .find(|log| log["message"] == "request failed");
        if let Some(log) = found {
            break log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the 503 was not logged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(logged["span"]["request_id"], id.as_str(), "{logged}");
    assert_eq!(logged["span"]["path"], "/events/stream");

    // An id from the proxy is kept; one that is not plain text is replaced.
    let proxied = client
        .get(format!("{}/healthz", server.address))
        .header("x-request-id", "nginx-5f2b9c")
        .send()
        .await
        .expect("sent");
    assert_eq!(proxied.headers()["x-request-id"], "nginx-5f2b9c");
    let odd = client
        .get(format!("{}/healthz", server.address))
        .header("x-request-id", "a b")
        .send()
        .await
        .expect("sent");
    assert_ne!(odd.headers()["x-request-id"], "a b");
}

#[tokio::test]
async fn fan_out_writes_no_log_line_per_event() {
    let server = LoggedServer::start(
        &[],
        "taskhub=debug,taskhub_server=debug,taskhub_store=debug",
    );
    let client = reqwest::Client::new();
    let mut streams = Vec::new();
    for _ in 0..3 {
        let response = client
            .get(format!("{}/events/stream", server.address))
            .send()
            .await
            .expect("stream");
        streams.push(crate::helpers::Sse::new(response).connected().await);
    }
    let before = server.lines().len();
    let batch: Vec<Value> = (0..200)
        .map(|n| json!({"event": "tick", "data": n}))
        .collect();
    let response = client
        .post(format!("{}/events", server.address))
        .json(&batch)
        .send()
        .await
        .expect("published");
    assert_eq!(response.status(), 202);
    for stream in &mut streams {
        assert_eq!(stream.ids(200).await.len(), 200);
    }
    let during = server.lines().len() - before;
    // 600 deliveries; at debug level the request itself may log a line or two.
    assert!(
        during <= 5,
        "{during} log lines for one publish: {:?}",
        &server.lines()[before..]
    );
}
