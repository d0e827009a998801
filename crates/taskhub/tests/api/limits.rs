//! Limits: open streams (`--max-clients`) and request bodies (`--max-body-bytes`).

use std::time::Duration;

use serde_json::json;

use crate::helpers::{problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn streams_over_the_limit_get_503_with_retry_after() {
    let app = spawn_app_with(&[
        "--max-clients",
        "2",
        "--keepalive-secs",
        "1",
        "--retry-ms",
        "2500",
    ])
    .await;
    let first = app.subscribe("", None).await.connected().await;
    let _second = app.subscribe("", None).await.connected().await;
    let refused = app.get("/events/stream").await;
    assert_eq!(refused.headers()["retry-after"], "3");
    problem(refused, 503).await;

    // A bad request does not take a slot, nor does it hide the limit.
    let bad = app.get("/events/stream?types=").await;
    problem(bad, 400).await;

    // Closing a stream frees its slot.
    drop(first);
    app.await_stream_slot(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_store_nothing() {
    let app = spawn_app_with(&["--max-body-bytes", "1000"]).await;
    let body = json!({"event": "a", "data": "x".repeat(2000)}).to_string();
    let response = app
        .client
        .post(app.url("/events"))
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    problem(response, 413).await;
    // Without a Content-Length (chunked), the limit still holds.
    let chunks = futures_util::stream::iter(
        body.into_bytes()
            .chunks(100)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let response = app
        .client
        .post(app.url("/events"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("sent");
    problem(response, 413).await;
    let response = app
        .client
        .post(app.url("/tasks"))
        .body("x".repeat(1001))
        .send()
        .await
        .expect("sent");
    problem(response, 413).await;
    // A client still sending a large body when the 413 is ready gets to read it (the
    // server drains the body instead of resetting the connection), and can go on using
    // the connection pool.
    for _ in 0..20 {
        let response = app
            .client
            .post(app.url("/events"))
            .body(vec![b'x'; 300_000])
            .send()
            .await
            .expect("the 413 arrives");
        problem(response, 413).await;
    }
    assert_eq!(app.publish("a", json!(1), None).await, "1");
}

#[tokio::test]
async fn default_body_limit_is_one_mebibyte() {
    let app = spawn_app().await;
    let batch: Vec<_> = (0..20)
        .map(|_| json!({"event": "a", "data": "x".repeat(60_000)}))
        .collect();
    let response = app.post_events(&serde_json::Value::Array(batch)).await;
    problem(response, 413).await;
}
