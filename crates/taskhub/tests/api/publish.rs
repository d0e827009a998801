//! `POST /events` (contract §3): acknowledgements, batches, and every rejection.

use serde_json::{Value, json};

use crate::helpers::{envelope, problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn single_and_batch_publishes_answer_202_with_increasing_ids() {
    let app = spawn_app().await;
    let mut sse = app.subscribe("", None).await.connected().await;
    let response = app.post_events(&json!({"event": "a", "data": 1})).await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        response.json::<Value>().await.expect("JSON"),
        json!({"id": "1"})
    );
    let response = app
        .post_events(&json!([
            {"event": "b", "data": {"x": 1}, "topic": "t/1"},
            {"event": "c", "data": null, "private": false},
        ]))
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        response.json::<Value>().await.expect("JSON"),
        json!({"ids": ["2", "3"]})
    );
    let events: Vec<_> = [sse.expect().await, sse.expect().await, sse.expect().await].into();
    let types: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(types, ["a", "b", "c"]);
    assert_eq!(envelope(&events[1])["topic"], "t/1");
}

#[tokio::test]
async fn concurrent_publishers_all_get_distinct_ordered_ids() {
    let app = spawn_app().await;
    let mut sse = app.subscribe("", None).await.connected().await;
    let publishers = (0..40).map(|p| {
        let client = app.client.clone();
        let url = app.url("/events");
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..25 {
                let body = json!({"event": "tick", "data": {"p": p, "i": i}});
                let response = client
                    .post(&url)
                    .body(body.to_string())
                    .send()
                    .await
                    .expect("sent");
                assert_eq!(response.status(), 202);
                let answer: Value = response.json().await.expect("JSON");
                ids.push(
                    answer["id"]
                        .as_str()
                        .expect("id")
                        .parse::<u64>()
                        .expect("numeric"),
                );
            }
            ids
        })
    });
    let mut all = Vec::new();
    for publisher in publishers {
        let ids = publisher.await.expect("publisher");
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "one publisher's ids increase"
        );
        all.extend(ids);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=1000).collect::<Vec<u64>>());
    // Subscribers see them in id order.
    let delivered: Vec<u64> = sse
        .ids(1000)
        .await
        .iter()
        .map(|id| id.parse().expect("numeric"))
        .collect();
    assert_eq!(delivered, (1..=1000).collect::<Vec<u64>>());
}

#[tokio::test]
async fn bad_events_are_rejected_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({"data": 1}), "event"),
        (json!({"event": "a"}), "data"),
        (json!({"event": "", "data": 1}), "event"),
        (json!({"event": "a b", "data": 1}), "event"),
        (json!({"event": "a\nid: 9", "data": 1}), "event"),
        (json!({"event": "x".repeat(65), "data": 1}), "event"),
        (json!({"event": 5, "data": 1}), "event"),
        (json!({"event": "a", "data": 1, "topic": ""}), "topic"),
        (
            json!({"event": "a", "data": 1, "topic": "t\r\nevent: evil"}),
            "topic",
        ),
        (
            json!({"event": "a", "data": 1, "topic": "t".repeat(257)}),
            "topic",
        ),
        (json!({"event": "a", "data": 1, "topic": 7}), "topic"),
        (
            json!({"event": "a", "data": 1, "private": "yes"}),
            "private",
        ),
        (json!({"event": "a", "data": 1, "private": true}), "private"),
        (json!({"event": "a", "data": 1, "tpoic": "x"}), "tpoic"),
        (json!("just a string"), "body"),
        (json!([]), "body"),
    ];
    for (body, field) in cases {
        let problem = problem(app.post_events(&body).await, 422).await;
        assert_eq!(problem["field"], field, "{body}: {problem}");
    }
    // Nothing was stored by any of them.
    let first = app.publish("ok", json!(1), None).await;
    assert_eq!(first, "1");
}

#[tokio::test]
async fn a_batch_is_all_or_nothing() {
    let app = spawn_app().await;
    let batch = json!([
        {"event": "good", "data": 1},
        {"event": "bad type", "data": 2},
        {"event": "good", "data": 3},
    ]);
    let problem = problem(app.post_events(&batch).await, 422).await;
    assert_eq!(problem["field"], "[1].event");
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"event": "t", "data": i}))
        .collect();
    crate::helpers::problem(app.post_events(&Value::Array(too_many)).await, 422).await;
    // The next event gets id 1: no id was spent on the rejected batches.
    assert_eq!(app.publish("after", json!(null), None).await, "1");
    let mut replay = app
        .subscribe("?last_event_id=0", None)
        .await
        .connected()
        .await;
    let only = replay.expect().await;
    assert_eq!(only.event, "after");
    replay
        .assert_quiet(std::time::Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    for body in ["{", "not json", "", "{\"event\": \"a\", \"data\": }"] {
        let response = app
            .client
            .post(app.url("/events"))
            .body(body)
            .send()
            .await
            .expect("sent");
        problem(response, 400).await;
    }
}

#[tokio::test]
async fn data_over_the_event_limit_is_422() {
    let app = spawn_app_with(&["--max-event-bytes", "100"]).await;
    let fits = "x".repeat(98); // 100 bytes with its quotes
    let response = app.post_events(&json!({"event": "a", "data": fits})).await;
    assert_eq!(response.status(), 202);
    let too_big = "x".repeat(99);
    let problem = problem(
        app.post_events(&json!({"event": "a", "data": too_big}))
            .await,
        422,
    )
    .await;
    assert_eq!(problem["field"], "data");
}

#[tokio::test]
async fn the_default_event_limit_is_64_kib() {
    let app = spawn_app().await;
    let fits = "x".repeat(65_536 - 2);
    assert_eq!(
        app.post_events(&json!({"event": "a", "data": fits}))
            .await
            .status(),
        202
    );
    let too_big = "x".repeat(65_536 - 1);
    problem(
        app.post_events(&json!({"event": "a", "data": too_big}))
            .await,
        422,
    )
    .await;
}

#[tokio::test]
async fn data_with_newlines_and_unicode_stays_one_data_line() {
    let app = spawn_app().await;
    let mut sse = app.subscribe("", None).await.connected().await;
    let data = json!({"text": "line1\nline2\r\nline3\rend", "emoji": "🦀", "ls": "\u{2028}"});
    let id = app.publish("note", data.clone(), None).await;
    let event = sse.expect().await;
    assert_eq!(event.id, id);
    assert_eq!(envelope(&event)["data"], data);
}
