//! How connections are served, seen from raw TCP: an event stream's first request is
//! answered outside hyper, and everything around it must still behave as HTTP/1.1 says.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads until `needle` has arrived; what was read.
async fn read_until(socket: &mut TcpStream, needle: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("bytes arrive")
            .expect("read");
        assert!(
            n > 0,
            "closed before {needle:?}: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Whether the server closes the connection within a few seconds.
async fn closes(socket: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn a_stream_response_is_chunked_dated_and_closes_when_it_ends() {
    let app = spawn_app_with(&["--shutdown-grace-secs", "5"]).await;
    let mut socket = connect(&app).await;
    socket
        .write_all(b"GET /events/stream HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("request");
    let seen = read_until(&mut socket, "SSE connection established").await;
    let head = seen
        .split_once("\r\n\r\n")
        .expect("a head")
        .0
        .to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    for header in [
        "transfer-encoding: chunked",
        "connection: close",
        "date: ",
        "x-request-id: ",
    ] {
        assert!(head.contains(header), "{header} in {head}");
    }
    // The stream ends (here: the server shutting down) with the last chunk, then closes.
    app.signal("TERM");
    let rest = read_until(&mut socket, "0\r\n\r\n").await;
    assert!(rest.ends_with("0\r\n\r\n"), "{rest:?}");
    assert!(closes(&mut socket).await);
}

#[tokio::test]
async fn connections_waiting_for_a_first_request_do_not_hold_up_shutdown() {
    let mut app =
        spawn_app_with(&["--shutdown-grace-secs", "10", "--header-timeout-secs", "10"]).await;
    let _silent = connect(&app).await;
    let mut half = connect(&app).await;
    half.write_all(b"GET /events/stream HTTP/1.1\r\n")
        .await
        .expect("half a head");
    // Let the server accept both before it is told to stop.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(5)).is_some(), "exited");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_refused_stream_request_leaves_the_connection_to_the_next_request() {
    let app = spawn_app().await;
    let mut socket = connect(&app).await;
    socket
        .write_all(b"GET /events/stream?types= HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("request");
    let refused = read_until(&mut socket, "}").await;
    assert!(
        refused.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{refused}"
    );
    assert!(
        refused
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json")
    );
    // The same connection serves another request.
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("request");
    let next = read_until(&mut socket, "ok").await;
    assert!(next.contains("HTTP/1.1 200 OK"), "{next}");

    // Unless the client asked to close.
    let mut socket = connect(&app).await;
    socket
        .write_all(b"GET /events/stream?types= HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let refused = read_until(&mut socket, "}").await;
    assert!(
        refused.to_ascii_lowercase().contains("connection: close"),
        "{refused}"
    );
    assert!(closes(&mut socket).await);
}

#[tokio::test]
async fn a_client_that_leaves_frees_its_slot_at_once() {
    // One slot, and no keepalive soon: the server notices the close by reading.
    let app = spawn_app_with(&["--max-clients", "1", "--keepalive-secs", "3600"]).await;
    let mut first = connect(&app).await;
    first
        .write_all(b"GET /events/stream HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("request");
    read_until(&mut first, "SSE connection established").await;
    drop(first);
    app.await_stream_slot(Duration::from_secs(3)).await;
}

#[tokio::test]
async fn stream_requests_hyper_serves_still_stream() {
    let app = spawn_app().await;
    for request in [
        // A (chunked, empty) body.
        &b"GET /events/stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"[..],
        // Another request right behind it.
        b"GET /events/stream HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
        // A head split over several packets, and sent slowly.
        b"GET /events/stream HTTP/1.1\r\n",
    ] {
        let mut socket = connect(&app).await;
        socket.write_all(request).await.expect("request");
        if request.ends_with(b"HTTP/1.1\r\n") {
            tokio::time::sleep(Duration::from_millis(100)).await;
            socket.write_all(b"Host: t\r\n").await.expect("more");
            tokio::time::sleep(Duration::from_millis(100)).await;
            socket.write_all(b"\r\n").await.expect("end");
        }
        let seen = read_until(&mut socket, "SSE connection established").await;
        assert!(seen.starts_with("HTTP/1.1 200 OK\r\n"), "{seen}");
    }
}
