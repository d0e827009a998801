//! Webhooks, received by a real application endpoint (tests/python/webhook_receiver.py)
//! that verifies every signature with the Standard Webhooks reference library: delivery
//! in log order, retries with the same `webhook-id`, a receiver down then up, a SIGKILL
//! mid-delivery, parking and redelivery, two cluster nodes under one lease, the SSRF
//! guard, redirects, bad flags and the operations API's grants.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::cluster_support::{ClusterBackend, cluster_mode};
use crate::helpers::{
    PATIENCE, TestApp, assert_refused_at_start, metrics, problem, spawn_app_with, spawn_node,
};
use crate::scripts::{python, repo_root};
use crate::tokens::now;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A node killed while holding a target's lease hands it over when the lease runs out
/// (15 s): waits that may span that get this long.
const TAKEOVER_PATIENCE: Duration = Duration::from_secs(45);

/// The application's webhook endpoint, on a loopback port.
struct Receiver {
    child: Child,
    port: u16,
    client: reqwest::Client,
}

impl Receiver {
    /// Starts it on `port` (0: any free port).
    fn start(port: u16) -> Self {
        let mut child = python()
            .arg(repo_root().join("tests/python/webhook_receiver.py"))
            .args([SECRET, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the receiver starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the receiver says its port");
        let started: Value = serde_json::from_str(&line).expect("a JSON line");
        Self {
            child,
            port: started["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .expect("a port"),
            client: reqwest::Client::new(),
        }
    }

    fn hook(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every verified request so far, and how many were rejected.
    async fn received(&self) -> (Vec<Value>, u64) {
        let all: Value = self
            .client
            .get(self.url("/received"))
            .send()
            .await
            .expect("receiver answers")
            .json()
            .await
            .expect("JSON");
        let verified = all["verified"].as_array().cloned().unwrap_or_default();
        (verified, all["rejected"].as_u64().unwrap_or_default())
    }

    /// Answers later webhooks with `status`, after `delay` seconds.
    async fn answer(&self, status: u16, delay: f64) {
        self.answer_with(json!({ "status": status, "delay": delay }))
            .await;
    }

    /// Answers later webhooks as `how` says (`status`, `delay`, `big`).
    async fn answer_with(&self, how: Value) {
        let response = self
            .client
            .post(self.url("/answer"))
            .json(&how)
            .send()
            .await
            .expect("receiver answers");
        assert_eq!(response.status(), 200);
    }

    /// Waits until `done` holds for the verified requests; panics after `patience`.
    async fn await_received(
        &self,
        patience: Duration,
        what: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let (verified, _) = self.received().await;
            if done(&verified) {
                return verified;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} within {patience:?}; received: {verified:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the ids answered 2xx are `ids`, and returns them.
    async fn await_delivered(&self, ids: &[String], patience: Duration) -> Vec<Value> {
        self.await_received(patience, &format!("events {ids:?} delivered"), |verified| {
            delivered_ids(verified).len() >= ids.len()
        })
        .await
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The ids of the requests answered 2xx, in arrival order.
fn delivered_ids(verified: &[Value]) -> Vec<String> {
    verified
        .iter()
        .filter(|r| {
            r["status"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s))
        })
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// The flags of a server delivering `tick` and `task_*` events to `hook`.
fn webhook_flags(hook: &str) -> Vec<String> {
    [
        "--webhook-url",
        hook,
        "--webhook-secret",
        SECRET,
        "--webhook-events",
        "tick,task_*",
        "--webhook-allow-private",
    ]
    .map(str::to_owned)
    .to_vec()
}

async fn spawn_delivering(hook: &str, extra: &[&str]) -> TestApp {
    let mut flags = webhook_flags(hook);
    flags.extend(extra.iter().map(|f| (*f).to_owned()));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    spawn_app_with(&flags).await
}

async fn publish_ticks(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(app.publish("tick", json!({ "n": i }), None).await);
    }
    ids
}

/// `GET /webhooks`' only target.
async fn webhook_state(app: &TestApp) -> Value {
    let list: Value = app.get_json("/webhooks").await;
    list["webhooks"][0].clone()
}

/// Waits until the target's state satisfies `done`.
async fn await_state(
    app: &TestApp,
    patience: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let state = webhook_state(app).await;
        if done(&state) {
            return state;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {patience:?}; GET /webhooks: {state:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn selected_events_arrive_signed_in_log_order_and_a_tampered_one_is_rejected() {
    let receiver = Receiver::start(0);
    let app = spawn_delivering(&receiver.hook(), &[]).await;
    let mut expected = publish_ticks(&app, 3).await;
    // Not selected: skipped, and the cursor moves past it.
    let other: u64 = app
        .publish("other", json!({}), None)
        .await
        .parse()
        .expect("id");
    let task: Value = app.post_json("/tasks", &json!({ "title": "a" })).await;
    assert!(task["id"].is_string(), "{task:#}");
    // The task's event is the next one.
    expected.push((other + 1).to_string());
    let verified = receiver.await_delivered(&expected, PATIENCE).await;
    assert_eq!(
        delivered_ids(&verified),
        expected,
        "in log order, each once"
    );
    for request in &verified {
        let id = request["id"].as_str().expect("id");
        let stored: Value = app.get_json(&format!("/events/{id}")).await;
        let body: Value =
            serde_json::from_str(request["body"].as_str().expect("body")).expect("JSON body");
        assert_eq!(body, stored, "the body is the event's envelope");
        assert_eq!(request["content_type"], "application/json");
        let sent: i64 = request["timestamp"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .expect("timestamp");
        assert!(
            (sent - now() as i64).abs() < 60,
            "a current webhook-timestamp"
        );
    }
    let last = verified.last().expect("a request");
    assert_eq!(
        serde_json::from_str::<Value>(last["body"].as_str().expect("body")).expect("JSON")["event"],
        "task_created"
    );

    // The same request with one byte of the body changed does not verify.
    let first = &verified[0];
    let tampered = first["body"]
        .as_str()
        .expect("body")
        .replacen("\"n\":0", "\"n\":1", 1);
    let refused = receiver
        .client
        .post(receiver.hook())
        .header("webhook-id", first["id"].as_str().expect("id"))
        .header(
            "webhook-timestamp",
            first["timestamp"].as_str().expect("ts"),
        )
        .header(
            "webhook-signature",
            first["signature"].as_str().expect("sig"),
        )
        .header("content-type", "application/json")
        .body(tampered)
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 401);
    let (_, rejected) = receiver.received().await;
    assert_eq!(rejected, 1, "only the tampered request was rejected");

    let state = await_state(&app, PATIENCE, "the cursor at the newest event", |s| {
        s["lag"] == 0
    })
    .await;
    assert_eq!(state["url"], receiver.hook());
    assert_eq!(state["events"], json!(["tick", "task_*"]));
    assert_eq!(state["cursor"], state["newest"]);
    assert_eq!(state["last_status"], 200);
    assert_eq!(state["last_error"], Value::Null);
    assert_eq!(state["parked"], json!([]));
    let series = metrics(&app.address).await;
    let delivered = series
        .iter()
        .find(|(name, _)| name.starts_with("taskhub_webhook_deliveries_total{"))
        .map(|(_, v)| *v);
    assert_eq!(delivered, Some(expected.len() as f64), "{series:#?}");
}

#[tokio::test]
async fn a_receiver_failing_then_down_then_up_gets_everything_in_order_with_the_same_ids() {
    let mut receiver = Receiver::start(0);
    receiver.answer(503, 0.0).await;
    let app = spawn_delivering(&receiver.hook(), &[]).await;
    let mut ids = publish_ticks(&app, 3).await;
    let attempts = receiver
        .await_received(PATIENCE, "two attempts at the first event", |v| {
            v.len() >= 2
        })
        .await;
    assert!(
        attempts.iter().all(|a| a["id"] == ids[0].as_str()),
        "retries carry the first event's id, and nothing overtakes it: {attempts:#?}"
    );
    let state = await_state(&app, PATIENCE, "the failure shown", |s| {
        s["last_status"] == 503
    })
    .await;
    assert!(
        state["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{state:#}"
    );
    // Down: nothing answers on the port while more events are published.
    let port = receiver.port;
    receiver.kill();
    ids.extend(publish_ticks(&app, 2).await);
    let state = await_state(&app, PATIENCE, "a connection failure shown", |s| {
        s["last_status"].is_null() && s["last_error"].is_string()
    })
    .await;
    assert_eq!(state["lag"], 5, "{state:#}");
    // The lag gauge follows while the first event keeps failing.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let series = metrics(&app.address).await;
        let lag = series
            .iter()
            .find(|(name, _)| name.starts_with("taskhub_webhook_lag_events{"))
            .map(|(_, v)| *v);
        if lag == Some(5.0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "lag gauge: {lag:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Up again on the same port.
    let receiver = Receiver::start(port);
    let verified = receiver
        .await_delivered(&ids, Duration::from_secs(30))
        .await;
    assert_eq!(
        delivered_ids(&verified),
        ids,
        "all delivered, in order, once each"
    );
}

#[tokio::test]
async fn a_sigkilled_server_loses_nothing_and_repeats_only_the_event_in_flight() {
    let receiver = Receiver::start(0);
    // The first request hangs: the server is mid-delivery when it is killed.
    receiver.answer(200, 60.0).await;
    let mut app = spawn_delivering(&receiver.hook(), &[]).await;
    let ids = publish_ticks(&app, 3).await;
    receiver
        .await_received(PATIENCE, "the first event in flight", |v| !v.is_empty())
        .await;
    receiver.answer(200, 0.0).await;
    app.crash_and_restart();
    let verified = receiver
        .await_received(TAKEOVER_PATIENCE, "every event after the restart", |v| {
            v.iter().filter(|r| r["id"] != ids[0].as_str()).count() >= 2
                && v.iter().filter(|r| r["id"] == ids[0].as_str()).count() >= 2
        })
        .await;
    let seen: Vec<&str> = verified
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, ids, "in order, nothing lost: {seen:?}");
    assert_eq!(
        seen.iter()
            .filter(|id| **id == ids[1] || **id == ids[2])
            .count(),
        2,
        "only the event in flight is repeated: {seen:?}"
    );
}

#[tokio::test]
async fn events_failing_past_the_maximum_age_are_parked_then_redelivered_through_the_api() {
    let receiver = Receiver::start(0);
    receiver.answer(500, 0.0).await;
    let app = spawn_delivering(&receiver.hook(), &["--webhook-max-age", "2s"]).await;
    let ids = publish_ticks(&app, 2).await;
    let state = await_state(&app, PATIENCE, "both events parked", |s| {
        s["parked"].as_array().is_some_and(|p| p.len() == 2)
    })
    .await;
    assert_eq!(state["cursor"], ids[1].as_str(), "delivery moved past them");
    for (parked, id) in state["parked"].as_array().expect("parked").iter().zip(&ids) {
        assert_eq!(parked["id"], id.as_str());
        assert_eq!(parked["last_status"], 500);
        assert!(
            parked["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("failing on purpose"))
        );
        assert_eq!(parked["requeued"], false);
    }
    let series = metrics(&app.address).await;
    assert!(
        series
            .iter()
            .any(|(name, v)| name.starts_with("taskhub_webhook_parked_total{") && *v == 2.0)
    );
    assert!(
        series
            .iter()
            .any(|(name, v)| name.starts_with("taskhub_webhook_failures_total{") && *v >= 2.0)
    );

    receiver.answer(200, 0.0).await;
    let asked = app
        .client
        .post(app.url("/webhooks/redeliver"))
        .json(&json!({ "url": receiver.hook(), "parked": ids[0] }))
        .send()
        .await
        .expect("sent");
    assert_eq!(asked.status(), 202);
    receiver.await_delivered(&ids[..1], PATIENCE).await;
    let state = await_state(&app, PATIENCE, "the first event unparked", |s| {
        s["parked"].as_array().is_some_and(|p| p.len() == 1)
    })
    .await;
    assert_eq!(state["parked"][0]["id"], ids[1].as_str());

    // Replaying from the second event delivers it from the log, which unparks it too.
    let asked = app
        .client
        .post(app.url("/webhooks/redeliver"))
        .json(&json!({ "url": receiver.hook(), "from": ids[1] }))
        .send()
        .await
        .expect("sent");
    assert_eq!(asked.status(), 202);
    let verified = receiver.await_delivered(&ids, PATIENCE).await;
    assert_eq!(delivered_ids(&verified), ids);
    await_state(&app, PATIENCE, "nothing parked", |s| {
        s["parked"] == json!([])
    })
    .await;
}

#[tokio::test]
async fn bad_redelivery_requests_get_problems_naming_the_field() {
    let receiver = Receiver::start(0);
    let app = spawn_delivering(&receiver.hook(), &[]).await;
    // Delivery has started once the state exists.
    await_state(&app, PATIENCE, "delivery started", |s| {
        s["cursor"].is_string()
    })
    .await;
    let hook = receiver.hook();
    for (body, status, field) in [
        (json!({ "url": hook }), 422, "from"),
        (
            json!({ "url": hook, "from": "1", "parked": "1" }),
            422,
            "from",
        ),
        (json!({ "url": hook, "from": "abc" }), 422, "from"),
        (json!({ "url": hook, "from": "0" }), 422, "from"),
        (json!({ "url": hook, "parked": 5 }), 422, "parked"),
        (json!({ "from": "1" }), 422, "url"),
        (
            json!({ "url": hook, "from": "1", "extra": 1 }),
            422,
            "extra",
        ),
        (json!([1]), 422, "body"),
    ] {
        let response = app
            .client
            .post(app.url("/webhooks/redeliver"))
            .json(&body)
            .send()
            .await
            .expect("sent");
        let problem = problem(response, status).await;
        assert_eq!(problem["field"], field, "{body}: {problem:#}");
    }
    let response = app
        .client
        .post(app.url("/webhooks/redeliver"))
        .json(&json!({ "url": hook, "parked": "12345" }))
        .send()
        .await
        .expect("sent");
    let missing = problem(response, 404).await;
    assert!(
        missing["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not parked"))
    );
    let response = app
        .client
        .post(app.url("/webhooks/redeliver"))
        .json(&json!({ "url": "http://127.0.0.1:1/other", "from": "1" }))
        .send()
        .await
        .expect("sent");
    let unknown = problem(response, 404).await;
    assert!(
        unknown["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not a --webhook-url"))
    );
    let response = app
        .client
        .post(app.url("/webhooks/redeliver"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    problem(response, 400).await;
}

#[tokio::test]
async fn a_slow_answer_and_an_oversized_one_are_failures() {
    let receiver = Receiver::start(0);
    receiver.answer(200, 5.0).await;
    let app = spawn_delivering(&receiver.hook(), &["--webhook-timeout-secs", "1"]).await;
    let ids = publish_ticks(&app, 1).await;
    let state = await_state(&app, PATIENCE, "the timeout shown", |s| {
        s["last_error"].is_string()
    })
    .await;
    assert_eq!(state["last_error"], "no answer within 1s", "{state:#}");
    assert_ne!(state["cursor"], ids[0].as_str(), "not delivered: {state:#}");

    receiver
        .answer_with(json!({ "status": 200, "big": true }))
        .await;
    let state = await_state(&app, PATIENCE, "the oversized answer shown", |s| {
        s["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("over 16384 bytes"))
    })
    .await;
    assert!(state["last_status"].is_null(), "{state:#}");

    // (The receiver records those attempts as answered 200: it cannot tell that TaskHub
    // gave up on them; TaskHub's own state says what happened.)
    receiver.answer(200, 0.0).await;
    let state = await_state(&app, PATIENCE, "delivered once answered in time", |s| {
        s["cursor"] == ids[0].as_str() && s["last_status"] == 200
    })
    .await;
    assert_eq!(state["last_error"], Value::Null);
}

#[tokio::test]
async fn a_private_target_is_refused_without_the_opt_in_and_a_redirect_is_a_failure() {
    let receiver = Receiver::start(0);
    // By name: `localhost` is judged by the addresses it resolves to.
    let hook = format!("http://localhost:{}/hook", receiver.port);
    let app = spawn_app_with(&[
        "--webhook-url",
        &hook,
        "--webhook-secret",
        SECRET,
        "--webhook-events",
        "tick",
    ])
    .await;
    publish_ticks(&app, 1).await;
    let state = await_state(&app, PATIENCE, "the private target refused", |s| {
        s["last_error"].is_string()
    })
    .await;
    let error = state["last_error"].as_str().expect("error");
    assert!(error.contains("--webhook-allow-private"), "{error}");
    assert!(state["last_status"].is_null());
    assert!(receiver.received().await.0.is_empty(), "nothing reached it");

    // Allowed, a 3xx is a failure and its Location is not followed.
    receiver.answer(301, 0.0).await;
    let app = spawn_delivering(&receiver.hook(), &[]).await;
    publish_ticks(&app, 1).await;
    let state = await_state(&app, PATIENCE, "the redirect refused", |s| {
        s["last_status"] == 301
    })
    .await;
    assert!(
        state["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("redirects are not followed")),
        "{state:#}"
    );
}

#[test]
fn bad_webhook_flags_are_refused_at_start_with_one_line_each() {
    let url = "http://127.0.0.1:9/hook";
    for (flags, complaint) in [
        (
            vec!["--webhook-url", url],
            "--webhook-url needs --webhook-secret",
        ),
        (
            vec![
                "--webhook-url",
                url,
                "--webhook-secret",
                "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ],
            "must start with whsec_",
        ),
        (
            vec!["--webhook-url", url, "--webhook-secret", "whsec_!!!"],
            "not valid base64",
        ),
        (
            vec!["--webhook-url", url, "--webhook-secret", "whsec_c2hvcnQ="],
            "24 to 64 bytes, got 5",
        ),
        (
            vec![
                "--webhook-url",
                "ftp://example.com/",
                "--webhook-secret",
                SECRET,
            ],
            "--webhook-url \"ftp://example.com/\" is not an absolute http(s) URL",
        ),
        (
            vec![
                "--webhook-url",
                url,
                "--webhook-url",
                url,
                "--webhook-secret",
                SECRET,
            ],
            "given twice",
        ),
        (
            vec![
                "--webhook-url",
                url,
                "--webhook-secret",
                SECRET,
                "--webhook-events",
                "a b",
            ],
            "--webhook-events item \"a b\"",
        ),
        (
            vec!["--webhook-secret", SECRET, "--webhook-events", "tick"],
            "need at least one --webhook-url",
        ),
        (
            vec![
                "--webhook-url",
                url,
                "--webhook-secret",
                SECRET,
                "--webhook-max-age",
                "soon",
            ],
            "is not an age",
        ),
    ] {
        assert_refused_at_start(&flags, complaint);
    }
}

#[tokio::test]
async fn the_webhooks_api_needs_the_publish_grant_on_everything() {
    const JWT_SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";
    let token = |publish: &[&str]| {
        let claims = json!({
            "exp": now() + 3600,
            "taskhub": { "subscribe": ["*"], "publish": publish },
        });
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        )
        .expect("token")
    };
    let receiver = Receiver::start(0);
    let app = spawn_delivering(&receiver.hook(), &["--jwt-secret", JWT_SECRET]).await;
    let body = json!({ "url": receiver.hook(), "from": "1" });
    let get = |bearer: Option<String>| {
        let mut request = app.client.get(app.url("/webhooks"));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    let post = |bearer: String| {
        app.client
            .post(app.url("/webhooks/redeliver"))
            .bearer_auth(bearer)
            .json(&body)
            .send()
    };
    problem(get(None).await.expect("sent"), 401).await;
    let narrow = token(&["tasks/*"]);
    let refused = problem(get(Some(narrow.clone())).await.expect("sent"), 403).await;
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("`*`"))
    );
    problem(post(narrow).await.expect("sent"), 403).await;
    let everything = token(&["*"]);
    let answer = get(Some(everything)).await.expect("sent");
    assert_eq!(answer.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cluster_nodes_deliver_each_event_once_and_a_survivor_takes_the_lease_over() {
    if cluster_mode() {
        return;
    }
    let cluster = ClusterBackend::start();
    let receiver = Receiver::start(0);
    let flags = webhook_flags(&receiver.hook());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let nodes = [
        spawn_node(&cluster, &flags, &[]),
        spawn_node(&cluster, &flags, &[]),
    ];
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(nodes[i % 2].publish("tick", json!({ "n": i }), None).await);
    }
    let verified = receiver.await_delivered(&ids, PATIENCE).await;
    assert_eq!(
        delivered_ids(&verified),
        ids,
        "each event once, in log order"
    );
    // Both nodes report the same state, from Redis.
    for node in &nodes {
        let state = webhook_state(node).await;
        assert_eq!(state["cursor"], ids[9].as_str());
    }

    // Whichever node held the lease, killing one leaves the other to deliver.
    let [mut first, second] = nodes;
    first.signal("KILL");
    first.wait_exit(PATIENCE);
    for i in 10..13 {
        ids.push(second.publish("tick", json!({ "n": i }), None).await);
    }
    let verified = receiver.await_delivered(&ids, TAKEOVER_PATIENCE).await;
    assert_eq!(
        delivered_ids(&verified),
        ids,
        "the survivor delivered the rest, once each"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_lease_holder_is_replaced_and_delivers_nothing_when_it_wakes() {
    if cluster_mode() {
        return;
    }
    let cluster = ClusterBackend::start();
    let receiver = Receiver::start(0);
    let flags = webhook_flags(&receiver.hook());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    // The first node takes the lease before the second exists.
    let mut holder = spawn_node(&cluster, &flags, &[]);
    await_state(&holder, PATIENCE, "the first node delivering", |s| {
        s["cursor"].is_string()
    })
    .await;
    let other = spawn_node(&cluster, &flags, &[]);
    let mut ids = vec![other.publish("tick", json!({ "n": 0 }), None).await];
    receiver.await_delivered(&ids, PATIENCE).await;
    // Delivered is not yet recorded: the holder moves its cursor after the receiver's
    // answer, and a pause between the two would rightly have the event sent again.
    let first = ids[0].clone();
    await_state(&holder, PATIENCE, "the first delivery recorded", |s| {
        s["cursor"] == first.as_str()
    })
    .await;

    // Paused past its lease (SIGSTOP: it cannot even notice), the holder is replaced.
    holder.signal("STOP");
    for i in 1..4 {
        ids.push(other.publish("tick", json!({ "n": i }), None).await);
    }
    receiver.await_delivered(&ids, TAKEOVER_PATIENCE).await;
    holder.signal("CONT");
    // Its idle connections timed out while it slept: a fresh client, once it answers.
    holder.client = reqwest::Client::new();
    holder.await_ready(PATIENCE).await;
    // Awake again, it finds its lease gone and leaves delivery to the other node.
    for i in 4..7 {
        ids.push(holder.publish("tick", json!({ "n": i }), None).await);
    }
    let verified = receiver.await_delivered(&ids, PATIENCE).await;
    assert_eq!(delivered_ids(&verified), ids, "each event once, in order");
    let (all, _) = receiver.received().await;
    assert_eq!(
        all.len(),
        ids.len(),
        "no attempt beyond one per event: {all:#?}"
    );
}
