//! The bad-input corpus: malformed, hostile and oversized requests each get their
//! documented status with a problem+json body, and leave no trace: a subscriber sees
//! exactly the good events published before and after them.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{envelope, spawn_app};

/// A response as read off the socket.
struct RawResponse {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Sends raw bytes as a request (so that nothing normalises the path or fixes the
/// encoding) and reads the whole response.
async fn raw(
    address: &str,
    method: &str,
    target: &[u8],
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> RawResponse {
    let host = address.trim_start_matches("http://");
    let mut socket = TcpStream::connect(host).await.expect("connect");
    let mut request = Vec::new();
    request.extend_from_slice(method.as_bytes());
    request.push(b' ');
    request.extend_from_slice(target);
    request.extend_from_slice(
        format!(" HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n").as_bytes(),
    );
    for (name, value) in headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    request.extend_from_slice(body);
    socket.write_all(&request).await.expect("write");
    let mut received = Vec::new();
    let read =
        tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut received)).await;
    read.unwrap_or_else(|_| panic!("no answer to {method} {}", String::from_utf8_lossy(target)))
        .expect("read");
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&received[..split]).to_string();
    let status = head[9..12].parse().expect("status code");
    RawResponse {
        status,
        head,
        body: received[split + 4..].to_vec(),
    }
}

fn deep(levels: usize) -> String {
    format!(
        r#"{{"event":"a","data":{}1{}}}"#,
        "[".repeat(levels),
        "]".repeat(levels)
    )
}

#[tokio::test]
async fn every_bad_input_is_refused_cleanly_and_loses_nothing() {
    let app = spawn_app().await;
    let mut watcher = app.subscribe("", None).await.connected().await;
    assert_eq!(
        app.publish("before", json!({"n": 1}), Some("good/1")).await,
        "1"
    );
    let task: Value = app.post_json("/tasks", &json!({"title": "t"})).await;
    assert_eq!(task["id"], "1");

    let big_data = format!(r#"{{"event":"a","data":"{}"}}"#, "x".repeat(70_000));
    let huge_body = format!(r#"{{"event":"a","data":"{}"}}"#, "x".repeat(1_100_000));
    let batch_1001 = Value::Array(
        (0..1001)
            .map(|i| json!({"event": "a", "data": i}))
            .collect(),
    )
    .to_string();
    let long_type = format!(r#"{{"event":"{}","data":1}}"#, "x".repeat(65));
    let long_topic = format!(r#"{{"event":"a","data":1,"topic":"{}"}}"#, "t".repeat(257));
    let many_types = format!("/events/stream?types={}", vec!["a"; 101].join(","));
    let long_id = "9".repeat(5000);

    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<u8>,
        Vec<(&'a str, Vec<u8>)>,
        &'a [u8],
        u16,
    );
    let post = |body: &str, status: u16| -> Case<'_> {
        (
            "publish",
            "POST",
            b"/events".to_vec(),
            vec![],
            Box::leak(body.as_bytes().to_vec().into_boxed_slice()),
            status,
        )
    };
    let get = |target: &str, status: u16| -> Case<'_> {
        (
            "get",
            "GET",
            target.as_bytes().to_vec(),
            vec![],
            b"",
            status,
        )
    };
    let cases: Vec<Case<'_>> = vec![
        // Not JSON, or not JSON all the way.
        post("{", 400),
        post(r#"{"event":"a","data":"#, 400),
        post("[", 400),
        post("", 400),
        post("nul", 400),
        post(r#"{"event":"a","data":1}garbage"#, 400),
        post("\u{feff}{\"event\":\"a\",\"data\":1}", 400),
        (
            "invalid utf-8",
            "POST",
            b"/events".to_vec(),
            vec![],
            b"{\"event\":\"a\",\"data\":\"\xff\xfe\"}",
            400,
        ),
        post(r#"{"event":"a","data":1e999999}"#, 400),
        post(&deep(200), 400),
        // JSON of the wrong shape or type.
        post(r#""string""#, 422),
        post("42", 422),
        post("null", 422),
        post("[]", 422),
        post("[1,2]", 422),
        post(r#"{"event":null,"data":1}"#, 422),
        post(r#"{"event":["a"],"data":1}"#, 422),
        post(r#"{"event":"a"}"#, 422),
        post(r#"{"data":1}"#, 422),
        post(r#"{"event":"a","data":1,"private":"true"}"#, 422),
        post(r#"{"event":"a","data":1,"topic":5}"#, 422),
        post(r#"{"event":"a","data":1,"privat":true}"#, 422),
        // Types and topics: empty, long, control characters, injection attempts.
        post(r#"{"event":"","data":1}"#, 422),
        post(&long_type, 422),
        post(r#"{"event":"a\nb","data":1}"#, 422),
        post(r#"{"event":"a\r\nid: 99","data":1}"#, 422),
        post(r#"{"event":"a\u0000","data":1}"#, 422),
        post(r#"{"event":"ä","data":1}"#, 422),
        post(r#"{"event":"a b","data":1}"#, 422),
        post(r#"{"event":"a","data":1,"topic":""}"#, 422),
        post(r#"{"event":"a","data":1,"topic":"t\n\nevent: evil"}"#, 422),
        post(r#"{"event":"a","data":1,"topic":"t\u0085"}"#, 422),
        post(&long_topic, 422),
        post(r#"{"event":"a","data":1,"private":true}"#, 422),
        // Sizes.
        post(&big_data, 422),
        post(&huge_body, 413),
        post(&batch_1001, 422),
        // Stream parameters.
        get("/events/stream?types=", 400),
        get("/events/stream?types=a%0Ab", 400),
        get("/events/stream?topics=%0D", 400),
        get("/events/stream?types=a*b", 400),
        get("/events/stream?types=%FF", 400),
        get(&many_types, 400),
        get("/events/stream?typed=yes", 400),
        // Tasks.
        (
            "task title",
            "POST",
            b"/tasks".to_vec(),
            vec![],
            br#"{"title":1e400}"#,
            400,
        ),
        (
            "task status",
            "POST",
            b"/tasks".to_vec(),
            vec![],
            br#"{"title":"t","status":"DONE"}"#,
            422,
        ),
        (
            "task fields",
            "POST",
            b"/tasks".to_vec(),
            vec![],
            br#"{"title":"t","id":"7"}"#,
            422,
        ),
        (
            "patch status",
            "PATCH",
            b"/tasks/1".to_vec(),
            vec![],
            br#"{"status":"in progress"}"#,
            422,
        ),
        (
            "patch title",
            "PATCH",
            b"/tasks/1".to_vec(),
            vec![],
            br#"{"title":null}"#,
            422,
        ),
        (
            "seed call",
            "PUT",
            b"/tasks/status/1?new_status=%0A".to_vec(),
            vec![],
            b"",
            422,
        ),
        (
            "seed call",
            "PUT",
            b"/tasks/status/1".to_vec(),
            vec![],
            b"",
            422,
        ),
        get("/tasks?status=%FF", 400),
        // Path tricks.
        get("/tasks/..%2F..%2Fetc%2Fpasswd", 404),
        get("/tasks/%00", 404),
        get("/tasks/1%20OR%201=1", 404),
        get("/tasks/-1", 404),
        get("/tasks/01", 404),
        get("/tasks/99999999999999999999999", 404),
        get("/../../etc/passwd", 404),
        get("/events/../tasks/x", 404),
        ("delete", "DELETE", b"/tasks/0".to_vec(), vec![], b"", 404),
        ("method", "PATCH", b"/events".to_vec(), vec![], b"{}", 405),
    ];
    assert!(cases.len() >= 40);
    for (what, method, target, headers, body, expected) in &cases {
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        let response = raw(&app.address, method, target, &headers, body).await;
        let target = String::from_utf8_lossy(target);
        assert_eq!(
            response.status, *expected,
            "{what} {method} {target}: {}",
            response.head
        );
        assert!(
            response
                .head
                .to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{what} {method} {target}: {}",
            response.head
        );
        let problem: Value = serde_json::from_slice(&response.body).expect("problem JSON");
        assert_eq!(problem["status"], *expected);
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }

    // Resume ids that are garbage, huge or not UTF-8 get a reset, never an error.
    for id in [
        b"abc".as_slice(),
        long_id.as_bytes(),
        b"\xff\xfe",
        b"-1",
        b"1.5",
        b"999999",
    ] {
        let header = reqwest::header::HeaderValue::from_bytes(id).expect("header bytes");
        let response = app
            .client
            .get(app.url("/events/stream"))
            .header("last-event-id", header)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        let mut stream = crate::helpers::Sse::new(response).connected().await;
        let reset = stream.expect().await;
        assert_eq!(reset.event, "reset");
        assert_eq!(envelope(&reset)["reason"], "history_unavailable");
    }

    // Nothing above left a trace: the watcher sees exactly the good events.
    assert_eq!(
        app.publish("after", json!({"n": 2}), Some("good/2")).await,
        "3"
    );
    let events = [
        watcher.expect().await,
        watcher.expect().await,
        watcher.expect().await,
    ];
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.id.as_str(), e.event.as_str()))
        .collect();
    assert_eq!(
        seen,
        [("1", "before"), ("2", "task_created"), ("3", "after")]
    );
    assert_eq!(envelope(&events[2])["data"], json!({"n": 2}));
    watcher.assert_quiet(Duration::from_millis(200)).await;
    let task_now: Value = app.get_json("/tasks/1").await;
    assert_eq!(task_now, task, "the task is untouched");
}
