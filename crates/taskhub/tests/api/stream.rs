//! The stream's wire format and filters (contract §2).

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{envelope, problem, spawn_app, spawn_app_with};

/// Reads raw bytes from a stream until `needle` appears.
async fn read_until(socket: &mut TcpStream, seen: &mut Vec<u8>, needle: &str) {
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(seen).contains(needle) {
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("bytes arrive")
            .expect("read");
        assert!(
            n > 0,
            "stream closed before {needle:?}: {}",
            String::from_utf8_lossy(seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
}

async fn raw_stream(address: &str, path: &str, extra_headers: &str) -> TcpStream {
    let host = address.trim_start_matches("http://");
    let mut socket = TcpStream::connect(host).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra_headers}\r\n");
    socket.write_all(request.as_bytes()).await.expect("request");
    socket
}

#[tokio::test]
async fn headers_preamble_and_frames_are_exactly_the_contract() {
    let app = spawn_app_with(&["--retry-ms", "1234"]).await;
    let mut socket = raw_stream(
        &app.address,
        "/events/stream",
        "Accept-Encoding: gzip, br\r\n",
    )
    .await;
    let mut seen = Vec::new();
    read_until(&mut socket, &mut seen, "\n\n").await;
    let text = String::from_utf8_lossy(&seen).to_string();
    let (head, _) = text.split_once("\r\n\r\n").expect("headers end");
    let head = head.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    assert!(head.contains("cache-control: no-cache"), "{head}");
    assert!(head.contains("x-accel-buffering: no"), "{head}");
    assert!(
        !head.contains("content-encoding"),
        "never compressed: {head}"
    );

    // The first block: retry, then `connected` with no id line.
    read_until(&mut socket, &mut seen, "}\n\n").await;
    let text = String::from_utf8_lossy(&seen).to_string();
    let body = text.split_once("\r\n\r\n").expect("body").1;
    let first_block = body
        .lines()
        .filter(|l| !l.is_empty() && !is_chunk_size(l))
        .collect::<Vec<_>>();
    assert_eq!(first_block[0], "retry: 1234");
    assert_eq!(first_block[1], "event: connected");
    let data = first_block[2].strip_prefix("data: ").expect("data line");
    let connected: serde_json::Value = serde_json::from_str(data).expect("JSON");
    assert_eq!(connected["event"], "connected");
    assert_eq!(connected["data"]["message"], "SSE connection established");
    assert!(
        connected["data"]["client_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(!body.contains("id: "), "connected has no id line");

    let id = app
        .publish(
            "task_updated",
            json!({"task_id": "42", "status": "done"}),
            Some("tasks/42"),
        )
        .await;
    read_until(&mut socket, &mut seen, "\"timestamp\"").await;
    read_until(&mut socket, &mut seen, "}\n\n").await;
    let text = String::from_utf8_lossy(&seen).to_string();
    let frame_start = text.find(&format!("id: {id}\n")).expect("id line");
    let frame: Vec<&str> = text[frame_start..].lines().take(3).collect();
    assert_eq!(frame[0], format!("id: {id}"));
    assert_eq!(frame[1], "event: task_updated");
    let envelope: serde_json::Value =
        serde_json::from_str(frame[2].strip_prefix("data: ").expect("data"))
            .expect("one line of JSON");
    assert_eq!(envelope["id"], id.as_str());
    assert_eq!(envelope["event"], "task_updated");
    assert_eq!(envelope["topic"], "tasks/42");
    assert_eq!(envelope["data"], json!({"task_id": "42", "status": "done"}));
    let timestamp = envelope["timestamp"].as_str().expect("timestamp");
    assert!(
        timestamp.ends_with('Z') && timestamp.len() == 24,
        "{timestamp}"
    );
}

fn is_chunk_size(line: &str) -> bool {
    !line.is_empty() && line.trim().chars().all(|c| c.is_ascii_hexdigit())
}

#[tokio::test]
async fn typed_false_leaves_out_every_event_line() {
    let app = spawn_app().await;
    let mut sse = app.subscribe("?typed=false", None).await;
    let connected = sse.expect().await;
    assert_eq!(
        connected.event, "message",
        "connected has no event line either"
    );
    assert_eq!(envelope(&connected)["event"], "connected");
    app.publish("task_updated", json!({"status": "done"}), None)
        .await;
    let event = sse.expect().await;
    assert_eq!(event.event, "message");
    assert_eq!(envelope(&event)["event"], "task_updated");
}

#[tokio::test]
async fn keepalive_comment_after_each_idle_interval() {
    let app = spawn_app_with(&["--keepalive-secs", "1"]).await;
    let mut socket = raw_stream(&app.address, "/events/stream", "").await;
    let mut seen = Vec::new();
    read_until(&mut socket, &mut seen, "event: connected").await;
    let started = std::time::Instant::now();
    read_until(&mut socket, &mut seen, ": keepalive\n\n").await;
    seen.clear();
    read_until(&mut socket, &mut seen, ": keepalive\n\n").await;
    // Two intervals of silence, each closed by one comment.
    assert!(started.elapsed() >= Duration::from_millis(1500));
}

#[tokio::test]
async fn events_carry_envelope_without_topic_when_none_given() {
    let app = spawn_app().await;
    let mut sse = app.subscribe("", None).await.connected().await;
    let id = app.publish("note", json!([1, "two", null]), None).await;
    let event = sse.expect().await;
    assert_eq!(event.id, id);
    assert_eq!(event.event, "note");
    let envelope = envelope(&event);
    assert_eq!(envelope["data"], json!([1, "two", null]));
    assert!(envelope.get("topic").is_none());
}

#[tokio::test]
async fn filters_by_type_and_topic_with_prefixes() {
    let app = spawn_app().await;
    let mut by_type = app
        .subscribe("?types=task_updated,deploy.*", None)
        .await
        .connected()
        .await;
    // presence=false: these streams' presence.join events would take ids.
    let mut by_topic = app
        .subscribe("?topics=tasks/42,deploys/*&presence=false", None)
        .await
        .connected()
        .await;
    let mut both = app
        .subscribe("?types=deploy.*&topics=deploys/eu/*&presence=false", None)
        .await
        .connected()
        .await;
    let published = [
        ("task_updated", Some("tasks/42")),       // 1: type, topic
        ("task_created", Some("tasks/42")),       // 2: topic
        ("deploy.done", None),                    // 3: type (no topic: fails any topic list)
        ("deploy.started", Some("deploys/eu/1")), // 4: type, topic, both
        ("other", Some("tasks/420")),             // 5: none
        ("task_updated2", Some("x")),             // 6: none
        ("deploy.done", Some("deploys/us/1")),    // 7: type, topic
    ];
    for (event, topic) in published {
        app.publish(event, json!({}), topic).await;
    }
    let marker = app.publish("end", json!({}), Some("deploys/eu/end")).await;
    assert_eq!(marker, "8");
    assert_eq!(by_type.ids(4).await, ["1", "3", "4", "7"]);
    assert_eq!(by_topic.ids(5).await, ["1", "2", "4", "7", "8"]);
    assert_eq!(both.ids(1).await, ["4"]);
}

#[tokio::test]
async fn malformed_filters_are_400_problems() {
    let app = spawn_app().await;
    for query in [
        "types=",
        "types=a,,b",
        "types=a%20b",
        "types=a%0Ab",
        "types=ab*c",
        "topics=",
        "topics=x,",
        "topics=a%0Db",
        "typed=maybe",
    ] {
        let response = app.get(&format!("/events/stream?{query}")).await;
        let problem = problem(response, 400).await;
        assert!(problem["parameter"].is_string(), "{query}: {problem}");
    }
}
