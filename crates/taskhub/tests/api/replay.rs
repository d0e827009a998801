//! Resuming with `Last-Event-ID` (contract §2.3): replay then live, no gap, no duplicate.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{envelope, id_range, spawn_app, spawn_app_with};

#[tokio::test]
async fn header_and_query_resume_after_the_id() {
    let app = spawn_app().await;
    app.publish_batch(0, 5).await;
    let mut by_header = app.subscribe("", Some("2")).await.connected().await;
    assert_eq!(by_header.ids(3).await, id_range(3, 5));
    let mut by_query = app
        .subscribe("?last_event_id=3", None)
        .await
        .connected()
        .await;
    assert_eq!(by_query.ids(2).await, id_range(4, 5));
    // The header wins over the query parameter.
    let mut both = app
        .subscribe("?last_event_id=1", Some("4"))
        .await
        .connected()
        .await;
    assert_eq!(both.ids(1).await, ["5"]);
    // Then live events follow.
    app.publish("live", json!(1), None).await;
    assert_eq!(by_header.expect().await.id, "6");
    assert_eq!(both.expect().await.id, "6");
}

#[tokio::test]
async fn resume_from_zero_replays_everything_and_respects_filters() {
    let app = spawn_app().await;
    app.publish("a", json!(1), Some("x/1")).await;
    app.publish("b", json!(2), Some("y/1")).await;
    app.publish("a", json!(3), Some("x/2")).await;
    let mut sse = app
        // presence=false: the stream's own presence.join would take an id.
        .subscribe("?topics=x/*&last_event_id=0&presence=false", None)
        .await
        .connected()
        .await;
    assert_eq!(sse.ids(2).await, ["1", "3"]);
    app.publish("a", json!(4), Some("y/2")).await;
    app.publish("a", json!(5), Some("x/3")).await;
    assert_eq!(sse.expect().await.id, "5");
}

#[tokio::test]
async fn unknown_or_expired_ids_get_reset_then_live() {
    let app = spawn_app_with(&["--history-size", "10"]).await;
    app.publish_batch(0, 30).await; // ids 1..=30, history keeps 21..=30
    for stale in ["5", "19", "31", "999", "abc", "-1", "01"] {
        let mut sse = app.subscribe("", Some(stale)).await.connected().await;
        let reset = sse.expect().await;
        assert_eq!(reset.event, "reset", "for {stale}");
        assert_eq!(reset.id, "", "reset carries no id");
        let data = envelope(&reset);
        assert_eq!(data["reason"], "history_unavailable");
        assert_eq!(data["last_event_id"], stale);
    }
    // 20 is the oldest id one can resume after: 21..=30 are all retained.
    let mut sse = app.subscribe("", Some("20")).await.connected().await;
    assert_eq!(sse.ids(10).await, id_range(21, 30));
    // After a reset, live events flow.
    let mut sse = app.subscribe("", Some("3")).await.connected().await;
    assert_eq!(sse.expect().await.event, "reset");
    app.publish("live", json!(1), None).await;
    assert_eq!(sse.expect().await.id, "31");
}

/// The subscriber disconnects every 400 events and resumes from the last id while 3000
/// events are published: it sees each exactly once, in order.
///
/// Its first stream starts from `Last-Event-ID: 0`, since the publisher is already
/// running: a live stream (no id) sees only what is committed after it subscribes, and
/// when the first batch won that race (1 run in about 60 on a loaded machine) the reader
/// got 2990 events and waited for 10 that were never coming ("no event within 20s").
/// The publisher publishes as a client should, each batch with an `Idempotency-Key`,
/// retried while the outcome is unknown, so the ids stay exactly 1..=3000; and the reader
/// watches it, so a publisher that fails fails the test at once with its cause.
#[tokio::test]
async fn resume_while_publishing_has_no_gap_and_no_duplicate() {
    let app = spawn_app().await;
    const TOTAL: usize = 3000;
    let mut publisher = {
        let client = app.client.clone();
        let url = app.url("/events");
        tokio::spawn(async move {
            for chunk in 0..TOTAL / 10 {
                let batch: Vec<_> = (0..10)
                    .map(|i| json!({"event": "tick", "data": {"n": chunk * 10 + i}}))
                    .collect();
                let body = serde_json::Value::Array(batch).to_string();
                publish_once(&client, &url, &format!("batch-{chunk}"), body).await;
            }
        })
    };
    let mut publishing = true;
    let mut received: Vec<u64> = Vec::new();
    let mut last = Some("0".to_owned());
    // Disconnect after every 400 events and resume from the last id seen.
    while received.len() < TOTAL {
        let mut sse = app.subscribe("", last.as_deref()).await.connected().await;
        let mut read = 0;
        while read < 400 && received.len() < TOTAL {
            let event = tokio::select! {
                event = sse.expect() => event,
                finished = &mut publisher, if publishing => {
                    if let Err(failed) = finished {
                        std::panic::resume_unwind(failed.into_panic());
                    }
                    publishing = false;
                    continue;
                }
            };
            assert_ne!(event.event, "reset");
            received.push(event.id.parse().expect("numeric id"));
            last = Some(event.id);
            read += 1;
        }
    }
    if publishing {
        publisher.await.expect("publisher");
    }
    assert_eq!(received, (1..=TOTAL as u64).collect::<Vec<_>>());
}

/// Publishes `body` with `key`, retrying (with the key, so never twice) while the server
/// answers 503 or no answer comes; any other refusal fails the test.
async fn publish_once(client: &reqwest::Client, url: &str, key: &str, body: String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let sent = client
            .post(url)
            .header("Idempotency-Key", key)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == 202 => return,
            Ok(response) => assert_eq!(response.status(), 503, "{key}"),
            Err(error) => eprintln!("{key}: no answer ({error}); retrying"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{key}: never stored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_long_replay_catches_up_with_live_publishing() {
    // A tiny ring: the replay must fall back to the store when the ring moves on.
    let app = spawn_app_with(&["--client-buffer", "4"]).await;
    for chunk in 0..5 {
        app.publish_batch(chunk * 1000, 1000).await;
    }
    let mut sse = app.subscribe("", Some("0")).await.connected().await;
    let publisher = {
        let client = app.client.clone();
        let url = app.url("/events");
        tokio::spawn(async move {
            for n in 0..300 {
                let body = json!({"event": "late", "data": n}).to_string();
                client.post(&url).body(body).send().await.expect("sent");
            }
        })
    };
    let ids: Vec<u64> = sse
        .ids(5300)
        .await
        .iter()
        .map(|i| i.parse().expect("id"))
        .collect();
    publisher.await.expect("publisher");
    assert_eq!(ids, (1..=5300).collect::<Vec<_>>());
    sse.assert_quiet(Duration::from_millis(200)).await;
}
