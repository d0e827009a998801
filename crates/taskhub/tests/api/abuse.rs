//! Abuse resistance: CORS, rate limits, slow and oversized requests, secrets in logs.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{assert_refused_at_start, problem, serve_command, spawn_app_with};

#[tokio::test]
async fn cors_headers_only_for_listed_origins() {
    let app = spawn_app_with(&[
        "--cors-origins",
        "https://app.example.com,http://localhost:3000",
    ])
    .await;
    // A listed origin: the simple request and the preflight carry CORS headers.
    let response = app
        .client
        .get(app.url("/tasks"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(
        response.headers()["access-control-allow-credentials"],
        "true"
    );
    // A retry's answer is marked, and the browser's script may read the mark.
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii");
    assert!(exposed.contains("idempotent-replayed"), "{exposed}");
    assert!(
        response.headers()["vary"]
            .to_str()
            .expect("ascii")
            .contains("origin")
    );
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/events"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, idempotency-key",
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let allowed_headers = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii");
    for header in ["authorization", "content-type", "idempotency-key"] {
        assert!(
            allowed_headers.contains(header),
            "{header} in {allowed_headers}"
        );
    }
    assert!(
        preflight.headers()["access-control-allow-methods"]
            .to_str()
            .expect("ascii")
            .contains("POST")
    );

    // Anyone else: no CORS header at all, on requests and preflights alike.
    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.com",
        "null",
    ] {
        let response = app
            .client
            .get(app.url("/tasks"))
            .header("origin", origin)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        assert!(
            !response
                .headers()
                .keys()
                .any(|name| name.as_str().starts_with("access-control-")),
            "{origin}"
        );
        let preflight = app
            .client
            .request(reqwest::Method::OPTIONS, app.url("/events"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .expect("sent");
        assert!(
            !preflight
                .headers()
                .keys()
                .any(|name| name.as_str().starts_with("access-control-"))
        );
    }
}

#[test]
fn bad_cors_origins_are_refused_at_start_up() {
    assert_refused_at_start(&["--cors-origins", "*"], "not an origin");
}

#[tokio::test]
async fn a_connect_flood_is_answered_429_with_retry_after() {
    let app = spawn_app_with(&["--connect-rate", "5"]).await;
    let mut open = Vec::new();
    for _ in 0..5 {
        let response = app.get("/events/stream").await;
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    for _ in 0..20 {
        let response = app.get("/events/stream").await;
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!((1..=12).contains(&retry_after), "{retry_after}");
        problem(response, 429).await;
    }
    // Publishing is a separate budget.
    assert_eq!(app.publish("a", json!(1), None).await, "1");
}

#[tokio::test]
async fn publishes_and_task_writes_share_the_write_rate() {
    let app = spawn_app_with(&["--publish-rate", "3"]).await;
    for i in 0..2 {
        assert_eq!(
            app.post_events(&json!({"event": "a", "data": i}))
                .await
                .status(),
            202
        );
    }
    let task = app
        .client
        .post(app.url("/tasks"))
        .json(&json!({"title": "t"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(task.status(), 201);
    let limited = app.post_events(&json!({"event": "a", "data": 3})).await;
    assert!(limited.headers().contains_key("retry-after"));
    problem(limited, 429).await;
    let limited = app
        .client
        .put(app.url("/tasks/status/1?new_status=done"))
        .send()
        .await
        .expect("sent");
    problem(limited, 429).await;
    // Reads are not limited.
    let read = app.get("/tasks").await;
    assert_eq!(read.status(), 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        app.post_events(&json!({"event": "a", "data": 4}))
            .await
            .status(),
        202
    );
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // Not trusted: every request counts against the socket peer (127.0.0.1).
    let app = spawn_app_with(&["--publish-rate", "2"]).await;
    for client in ["192.0.2.1", "192.0.2.2"] {
        let response = publish_via(&app, client).await;
        assert_eq!(response.status(), 202);
    }
    let spoofed = publish_via(&app, "192.0.2.3").await;
    problem(spoofed, 429).await;

    // Trusted loopback proxy: each forwarded client has its own budget.
    let app = spawn_app_with(&[
        "--publish-rate",
        "2",
        "--trusted-proxies",
        "127.0.0.1,10.0.0.0/8",
    ])
    .await;
    for client in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        for _ in 0..2 {
            let response = publish_via(&app, format!("{client}, 10.1.2.3")).await;
            assert_eq!(response.status(), 202, "{client}");
        }
    }
    let third = publish_via(&app, "192.0.2.1").await;
    problem(third, 429).await;
}

/// Publishes one event as if forwarded by a proxy for `client`.
async fn publish_via(app: &crate::helpers::TestApp, client: impl AsRef<str>) -> reqwest::Response {
    let body = json!({"event": "a", "data": 1}).to_string();
    let request = app
        .client
        .post(app.url("/events"))
        .header("x-forwarded-for", client.as_ref());
    request.body(body).send().await.expect("sent")
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_to_close(socket: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    tokio::time::timeout(limit, socket.read_to_end(&mut received))
        .await
        .expect("the server closed the connection in time")
        .ok();
    received
}

#[tokio::test]
async fn slowloris_connections_are_cut_off_and_others_are_served() {
    let app = spawn_app_with(&["--header-timeout-secs", "1"]).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut socket = TcpStream::connect(&host).await.expect("connect");
        socket
            .write_all(b"GET /tasks HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("write");
        slow.push(socket);
    }
    // Meanwhile, normal requests are served.
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    for socket in &mut slow {
        // A byte now and then does not extend the deadline.
        let _ = socket.write_all(b"a").await;
    }
    for mut socket in slow {
        let answer = read_to_close(&mut socket, Duration::from_secs(5)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn oversized_heads_are_431_and_slow_bodies_408() {
    let app = spawn_app_with(&["--max-header-bytes", "8192", "--body-timeout-secs", "1"]).await;
    let response = app
        .client
        .get(app.url("/tasks"))
        .header("x-padding", "p".repeat(10_000))
        .send()
        .await
        .expect("sent");
    problem(response, 431).await;
    let response = app
        .client
        .get(app.url(&format!("/tasks?status={}", "a".repeat(9_000))))
        .send()
        .await
        .expect("sent");
    problem(response, 431).await;
    // Far past even hyper's buffer: refused all the same, without a body.
    let response = app
        .client
        .get(app.url("/tasks"))
        .header("x-padding", "p".repeat(100_000))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 431);

    // A body that never finishes arriving.
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut socket = TcpStream::connect(&host).await.expect("connect");
    socket
        .write_all(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"event\":")
        .await
        .expect("write");
    let answer = read_to_close(&mut socket, Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}

#[tokio::test]
async fn tokens_never_reach_the_logs() {
    let secret = "a-test-secret-of-at-least-32-bytes!!";
    let dir = tempfile::tempdir().expect("dir");
    let mut child = serve_command(dir.path(), "127.0.0.1:0")
        .args(["--log-format", "json"])
        .args(["--jwt-secret", secret])
        .env("RUST_LOG", "trace")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let stderr = child.stderr.take().expect("stderr");
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    let address = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("a log line");
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        log.push(line);
        if let Some(addr) = parsed["addr"].as_str() {
            break format!("http://{addr}");
        }
    };
    let tokens = [
        "tok-in-the-header-1234567",
        "tok-in-the-cookie-1234567",
        "tok-in-the-query-12345678",
    ];
    let client = reqwest::Client::new();
    let _ = client
        .get(format!("{address}/events/stream"))
        .bearer_auth(tokens[0])
        .send()
        .await;
    let _ = client
        .get(format!("{address}/tasks"))
        .header("cookie", format!("taskhub_token={}", tokens[1]))
        .send()
        .await;
    let _ = client
        .get(format!(
            "{address}/events/stream?access_token={}",
            tokens[2]
        ))
        .send()
        .await;
    let _ = client
        .get(format!("{address}/nope?access_token={}", tokens[2]))
        .send()
        .await;
    let _ = client
        .post(format!("{address}/events?access_token={}", tokens[2]))
        .body("{")
        .send()
        .await;
    // A graceful stop, so that everything the server had to say is said.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let _ = child.wait();
    while let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
        log.push(line);
    }
    assert!(
        log.iter().any(|l| l.contains("stopped")),
        "the whole log was read: {log:?}"
    );
    for line in &log {
        for token in tokens {
            assert!(!line.contains(token), "a token leaked into the log: {line}");
        }
        assert!(
            !line.contains(secret),
            "the secret leaked into the log: {line}"
        );
    }
}
