//! Retry-safe writes (`Idempotency-Key`): a retry gets the first attempt's answer and
//! writes nothing, in either engine; another request with the key is 422; a malformed
//! key is 400. In cluster mode, a Redis stall past the node's timeout answers 503 "may
//! have been stored", and the retry the client makes with its key stores exactly once.

use std::time::{Duration, Instant};

use eventsource_stream::Event;
use serde_json::{Value, json};

use crate::cluster_support::{ClusterBackend, cluster_mode};
use crate::helpers::{TestApp, problem, spawn_app, spawn_app_with, spawn_node};

/// `POST path` with a JSON body and an `Idempotency-Key`.
async fn post_keyed(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("Idempotency-Key", key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("sent")
}

fn replayed(response: &reqwest::Response) -> bool {
    match response.headers().get("idempotent-replayed") {
        None => false,
        Some(value) => {
            assert_eq!(value, "true");
            true
        }
    }
}

/// Every event in the log, in order: publishes a sentinel, then replays from the start up
/// to it. Whatever any earlier write appended is before the sentinel.
async fn every_event(app: &TestApp) -> Vec<Event> {
    app.publish("sentinel", json!(null), None).await;
    let mut sse = app.subscribe("", Some("0")).await;
    let mut events = Vec::new();
    loop {
        let event = sse.expect().await;
        match event.event.as_str() {
            "sentinel" => return events,
            "connected" => {}
            _ => events.push(event),
        }
    }
}

#[tokio::test]
async fn a_retry_with_the_key_gets_the_first_answer_and_publishes_nothing() {
    let app = spawn_app().await;
    let body = json!({"event": "order.paid", "data": {"order": 7}});
    let first = post_keyed(&app, "/events", "pay-7", &body).await;
    assert_eq!(first.status(), 202);
    assert!(!replayed(&first));
    let first: Value = first.json().await.expect("JSON");
    // The draft's form (a quoted structured-field string) names the same key.
    for key in ["pay-7", "\"pay-7\""] {
        let retry = post_keyed(&app, "/events", key, &body).await;
        assert_eq!(retry.status(), 202);
        assert!(replayed(&retry), "{key}");
        assert_eq!(retry.json::<Value>().await.expect("JSON"), first);
    }
    let batch = json!([{"event": "a", "data": 1}, {"event": "b", "data": 2}]);
    let ids = post_keyed(&app, "/events", "batch-1", &batch)
        .await
        .json::<Value>()
        .await
        .expect("JSON");
    let again = post_keyed(&app, "/events", "batch-1", &batch).await;
    assert!(replayed(&again));
    assert_eq!(again.json::<Value>().await.expect("JSON"), ids);
    let events = every_event(&app).await;
    let types: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(types, ["order.paid", "a", "b"]);
    assert_eq!(events[0].id, first["id"].as_str().expect("id"));
}

#[tokio::test]
async fn the_key_on_another_request_is_422_and_a_bad_key_400_and_both_store_nothing() {
    let app = spawn_app().await;
    let body = json!({"event": "note", "data": "first"});
    assert_eq!(post_keyed(&app, "/events", "k", &body).await.status(), 202);
    // Task changes have keys of their own, apart from publishes'.
    let task = post_keyed(&app, "/tasks", "k", &json!({"title": "one"})).await;
    assert_eq!(task.status(), 201);
    let other_body = json!({"event": "note", "data": "second"});
    for (path, body) in [
        ("/events", &other_body),
        ("/tasks", &json!({"title": "two"})),
    ] {
        let refused = problem(post_keyed(&app, path, "k", body).await, 422).await;
        assert_eq!(
            refused["type"],
            "https://taskhub.dev/problems/idempotency-key-reused"
        );
        assert!(
            refused["detail"]
                .as_str()
                .expect("detail")
                .contains("nothing was stored"),
            "{refused}"
        );
    }
    let too_long = "k".repeat(256);
    for bad in ["\"unterminated", "caf\u{e9}", "", too_long.as_str()] {
        let response = app
            .client
            .post(app.url("/events"))
            .header("Idempotency-Key", bad.as_bytes())
            .body(other_body.to_string())
            .send()
            .await
            .expect("sent");
        let refused = problem(response, 400).await;
        assert_eq!(refused["header"], "Idempotency-Key", "{bad:?}: {refused}");
    }
    let twice = app
        .client
        .post(app.url("/events"))
        .header("Idempotency-Key", "x")
        .header("Idempotency-Key", "y")
        .body(other_body.to_string())
        .send()
        .await
        .expect("sent");
    problem(twice, 400).await;
    let events = every_event(&app).await;
    let types: Vec<_> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(types, ["note", "task_created"]);
    assert_eq!(app.get_json::<Vec<Value>>("/tasks").await.len(), 1);
}

#[tokio::test]
async fn concurrent_attempts_with_one_key_publish_once() {
    let app = spawn_app().await;
    let body = json!({"event": "charge", "data": {"cents": 500}});
    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let (client, url, body) = (app.client.clone(), app.url("/events"), body.to_string());
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .header("Idempotency-Key", "charge-1")
                    .body(body)
                    .send()
                    .await
                    .expect("sent");
                assert_eq!(response.status(), 202);
                let replayed = replayed(&response);
                let answer: Value = response.json().await.expect("JSON");
                (answer["id"].as_str().expect("id").to_owned(), replayed)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for attempt in attempts {
        answers.push(attempt.await.expect("joined"));
    }
    assert_eq!(answers.iter().filter(|(_, replayed)| !replayed).count(), 1);
    assert!(answers.iter().all(|(id, _)| *id == answers[0].0));
    assert_eq!(every_event(&app).await.len(), 1);
}

#[tokio::test]
async fn task_changes_with_a_key_apply_once() {
    let app = spawn_app().await;
    let new = json!({"title": "pay the invoice"});
    let created = post_keyed(&app, "/tasks", "create-1", &new).await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].clone();
    let task: Value = created.json().await.expect("JSON");
    let again = post_keyed(&app, "/tasks", "create-1", &new).await;
    assert_eq!(again.status(), 201);
    assert!(replayed(&again));
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.json::<Value>().await.expect("JSON"), task);
    let id = task["id"].as_str().expect("id");
    let path = format!("/tasks/{id}");

    let patch = |key: &'static str| {
        app.client
            .patch(app.url(&path))
            .header("Idempotency-Key", key)
            .body(r#"{"status":"done"}"#)
            .send()
    };
    let updated: Value = patch("done-1")
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    let retry = patch("done-1").await.expect("sent");
    assert!(replayed(&retry));
    assert_eq!(retry.json::<Value>().await.expect("JSON"), updated);
    let status = |key: &'static str| {
        app.client
            .put(app.url(&format!("/tasks/status/{id}?new_status=blocked")))
            .header("Idempotency-Key", key)
            .send()
    };
    assert_eq!(status("blocked-1").await.expect("sent").status(), 200);
    assert!(replayed(&status("blocked-1").await.expect("sent")));
    let delete = || {
        app.client
            .delete(app.url(&path))
            .header("Idempotency-Key", "delete-1")
            .send()
    };
    assert_eq!(delete().await.expect("sent").status(), 204);
    let retry = delete().await.expect("sent");
    assert_eq!(
        retry.status(),
        204,
        "the retry is answered as the delete was"
    );
    assert!(replayed(&retry));
    let types: Vec<_> = every_event(&app)
        .await
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        types,
        [
            "task_created",
            "task_updated",
            "task_updated",
            "task_deleted"
        ]
    );
}

#[tokio::test]
async fn a_mercure_update_without_an_id_keeps_its_generated_id_on_a_retry() {
    let key = "!ChangeThisMercureHubJWTSecretKey!";
    let app = spawn_app_with(&["--mercure-jwt-key", key, "--mercure-anonymous"]).await;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"mercure": {"publish": ["*"]}}),
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
    )
    .expect("token");
    let publish = |idempotency_key: &'static str, data: &'static str| {
        app.client
            .post(app.url("/.well-known/mercure"))
            .bearer_auth(&token)
            .header("Idempotency-Key", idempotency_key)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "topic=https%3A%2F%2Fexample.com%2Fbooks%2F1&data={data}"
            ))
            .send()
    };
    let first = publish("m-1", "hello").await.expect("sent");
    assert_eq!(first.status(), 200);
    let id = first.text().await.expect("text");
    assert!(id.starts_with("urn:uuid:"), "{id}");
    let retry = publish("m-1", "hello").await.expect("sent");
    assert!(replayed(&retry));
    assert_eq!(retry.text().await.expect("text"), id);
    problem(publish("m-1", "other").await.expect("sent"), 422).await;
    assert_eq!(every_event(&app).await.len(), 1);
}

/// A client that lost its answer to a Redis stall retries with its key and stores once,
/// whether or not its first attempt ran when Redis came back.
#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_a_redis_stall_publishes_exactly_once() {
    if cluster_mode() {
        return; // It starts its own cluster.
    }
    let cluster = ClusterBackend::start();
    let node = spawn_node(&cluster, &[], &[]);
    let body = json!({"event": "payment", "data": {"n": 1}});
    cluster.redis.pause();
    let started = Instant::now();
    let stalled = post_keyed(&node, "/events", "stall-1", &body).await;
    let stalled = problem(stalled, 503).await;
    cluster.redis.resume();
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "the node waited"
    );
    let detail = stalled["detail"].as_str().expect("detail");
    assert!(
        detail.contains("may have been stored; retry with the same Idempotency-Key"),
        "{detail}"
    );
    // Retry as a client would, until Redis answers again.
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer: Value = loop {
        let retry = post_keyed(&node, "/events", "stall-1", &body).await;
        if retry.status() == 202 {
            break retry.json().await.expect("JSON");
        }
        assert_eq!(retry.status(), 503);
        assert!(Instant::now() < deadline, "Redis did not come back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let payments: Vec<_> = every_event(&node)
        .await
        .into_iter()
        .filter(|e| e.event == "payment")
        .collect();
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0].id, answer["id"].as_str().expect("id"));
}
