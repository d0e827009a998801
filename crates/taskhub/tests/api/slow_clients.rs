//! Slow subscribers never slow anyone else down; the two policies for them.

use serde_json::{Value, json};

use crate::helpers::{Sse, envelope, spawn_app, spawn_app_with};

/// Publishes `n` events whose data is about 60 KB each, so a subscriber that does not
/// read falls far behind whatever socket buffers hold.
async fn publish_large(app: &crate::helpers::TestApp, n: usize) {
    let payload = "x".repeat(60_000);
    for start in (0..n).step_by(16) {
        let batch: Vec<Value> = (start..n.min(start + 16))
            .map(|i| json!({"event": "big", "data": {"n": i, "pad": payload}}))
            .collect();
        let response = app.post_events(&Value::Array(batch)).await;
        assert_eq!(response.status(), 202);
    }
}

/// A stream that a client opened and then stopped reading.
async fn stalled_stream(app: &crate::helpers::TestApp) -> Sse {
    // `connected` is read so the subscription surely exists; after that, nothing is.
    app.subscribe("", None).await.connected().await
}

#[tokio::test]
async fn a_stalled_subscriber_does_not_delay_a_fast_one() {
    let app = spawn_app().await;
    let _stalled = stalled_stream(&app).await;
    let mut fast = app.subscribe("", None).await.connected().await;
    let reader = tokio::spawn(async move { fast.ids(10_000).await });
    for chunk in 0..20 {
        app.publish_batch(chunk * 500, 500).await;
    }
    let ids: Vec<u64> = reader
        .await
        .expect("reader")
        .iter()
        .map(|i| i.parse().expect("id"))
        .collect();
    assert_eq!(ids, (1..=10_000).collect::<Vec<_>>());
}

#[tokio::test]
async fn drop_oldest_tells_the_subscriber_what_it_lost() {
    let app = spawn_app_with(&[
        "--client-buffer",
        "8",
        "--slow-client-policy",
        "drop-oldest",
    ])
    .await;
    let mut slow = stalled_stream(&app).await;
    const TOTAL: u64 = 700;
    publish_large(&app, TOTAL as usize).await;

    // Account for every id: delivered, or inside a gap event's range, exactly once.
    let mut next = 1;
    let mut gaps = 0;
    while next <= TOTAL {
        let event = slow.expect().await;
        if event.event == "gap" {
            let gap = envelope(&event);
            // A gap has no id of its own: the client's last id stays the last event's.
            let last_delivered = if next == 1 {
                String::new()
            } else {
                (next - 1).to_string()
            };
            assert_eq!(event.id, last_delivered);
            assert_eq!(gap["reason"], "slow_consumer");
            assert_eq!(gap["first_dropped_id"], next.to_string());
            let last: u64 = gap["last_dropped_id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("numeric");
            assert!(last >= next);
            next = last + 1;
            gaps += 1;
        } else {
            assert_eq!(
                event.id,
                next.to_string(),
                "events between gaps are contiguous"
            );
            next += 1;
        }
    }
    assert!(gaps >= 1, "the stalled subscriber must have lost something");
}

#[tokio::test]
async fn disconnect_policy_ends_the_stream_and_replay_recovers_everything() {
    let app = spawn_app_with(&["--client-buffer", "8"]).await;
    let mut slow = stalled_stream(&app).await;
    const TOTAL: u64 = 700;
    publish_large(&app, TOTAL as usize).await;

    let mut last = 0;
    while let Some(event) = slow.next().await {
        assert_eq!(event.id, (last + 1).to_string(), "contiguous until the end");
        last += 1;
    }
    assert!(last < TOTAL, "the stalled stream was ended before the end");
    let mut resumed = app
        .subscribe("", Some(&last.to_string()))
        .await
        .connected()
        .await;
    for id in last + 1..=TOTAL {
        assert_eq!(resumed.expect().await.id, id.to_string());
    }
}

#[tokio::test]
async fn many_subscribers_each_get_every_event() {
    let app = spawn_app().await;
    let mut streams = Vec::new();
    for _ in 0..200 {
        streams.push(app.subscribe("", None).await.connected().await);
    }
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut sse| tokio::spawn(async move { sse.ids(100).await }))
        .collect();
    app.publish_batch(0, 100).await;
    for reader in readers {
        assert_eq!(
            reader.await.expect("reader"),
            crate::helpers::id_range(1, 100)
        );
    }
}
