//! Presence: streams present on their `topics=` selectors, the `presence.join` /
//! `presence.leave` events on `$presence/<selector>` (through filters, through replay,
//! honest across reconnects and second tabs), `GET /presence` and its grants, the
//! reserved `$` topics, `presence=false`, and a SIGKILLed cluster node's members leaving
//! once.

use std::time::{Duration, Instant};

use eventsource_stream::Event;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

use crate::cluster_support::{ClusterBackend, cluster_mode};
use crate::helpers::{
    Sse, TestApp, assert_refused_at_start, envelope, metrics, problem, spawn_app_with, spawn_node,
};
use crate::tokens::now;

const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";
/// Short enough to keep tests quick, long enough for a reconnect on a loaded machine.
const GRACE_SECS: &str = "2";

/// A token for `subject` (none: no `sub`) that may subscribe to `subscribe`.
fn token(subject: Option<&str>, subscribe: &[&str]) -> String {
    let mut claims =
        json!({"exp": now() + 3600, "taskhub": {"subscribe": subscribe, "publish": ["*"]}});
    if let Some(subject) = subject {
        claims["sub"] = subject.into();
    }
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    encode(&Header::new(Algorithm::HS256), &claims, &key).expect("token")
}

async fn app(extra: &[&str]) -> TestApp {
    let mut args = vec!["--jwt-secret", SECRET, "--presence-grace-secs", GRACE_SECS];
    args.extend_from_slice(extra);
    spawn_app_with(&args).await
}

/// `topics` in a query string (`$` percent-encoded, as a browser's URL API writes it).
fn query(topics: &str) -> String {
    format!("?topics={}", topics.replace('$', "%24"))
}

/// Opens a stream as `token`'s holder; returns it past `connected`, with its client id.
async fn open(app: &TestApp, token: &str, query: &str) -> (Sse, String) {
    let response = app
        .client
        .get(app.url(&format!("/events/stream{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("stream request");
    assert_eq!(response.status(), 200, "stream refused");
    let mut sse = Sse::new(response);
    let connected = sse.expect().await;
    assert_eq!(connected.event, "connected");
    let data: Value = serde_json::from_str(&connected.data).expect("JSON");
    let client_id = data["data"]["client_id"].as_str().expect("client id");
    (sse, client_id.to_owned())
}

/// Resumes a stream after `last_event_id`.
async fn resume(app: &TestApp, token: &str, query: &str, last_event_id: &str) -> Sse {
    let response = app
        .client
        .get(app.url(&format!("/events/stream{query}")))
        .bearer_auth(token)
        .header("Last-Event-ID", last_event_id)
        .send()
        .await
        .expect("stream request");
    assert_eq!(response.status(), 200, "stream refused");
    Sse::new(response).connected().await
}

/// The presence change an event carries: (type, selector, subject, count, client id).
fn change(event: &Event) -> (String, String, Value, u64, String) {
    let envelope = envelope(event);
    let data = &envelope["data"];
    assert_eq!(
        envelope["topic"],
        format!("$presence/{}", data["selector"].as_str().expect("selector"))
    );
    (
        event.event.clone(),
        data["selector"].as_str().expect("selector").to_owned(),
        data["subject"].clone(),
        data["count"].as_u64().expect("count"),
        data["client_id"].as_str().expect("client id").to_owned(),
    )
}

async fn presence(app: &TestApp, token: &str, topics: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/presence{}", query(topics))))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
}

async fn publish_marker(app: &TestApp, topic: &str) -> String {
    let response = app
        .client
        .post(app.url("/events"))
        .bearer_auth(token(None, &[]))
        .json(&json!({"event": "marker", "data": {}, "topic": topic}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.expect("JSON");
    answer["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn joins_and_leaves_are_events_with_counts_through_filters_and_replay() {
    let app = app(&[]).await;
    let all = token(Some("watcher"), &["*"]);
    let (mut watcher, _) = open(&app, &all, &query("$presence/tasks/*")).await;
    let (everything, _) = open(&app, &all, &query("*")).await;

    let (alice, alice_id) = open(
        &app,
        &token(Some("alice"), &["tasks/*"]),
        &query("tasks/42"),
    )
    .await;
    let first = watcher.expect().await;
    assert_eq!(
        change(&first),
        (
            "presence.join".into(),
            "tasks/42".into(),
            json!("alice"),
            1,
            alice_id.clone()
        )
    );
    let (_bob, bob_id) = open(
        &app,
        &token(Some("bob"), &["*"]),
        &query("tasks/42,deploys/*"),
    )
    .await;
    let bob_joined = watcher.expect().await;
    assert_eq!(
        change(&bob_joined),
        (
            "presence.join".into(),
            "tasks/42".into(),
            json!("bob"),
            2,
            bob_id.clone()
        )
    );

    let listed: Value = presence(&app, &all, "tasks/42,deploys/*")
        .await
        .json()
        .await
        .expect("JSON");
    let topics = listed["topics"].as_array().expect("topics");
    assert_eq!(topics[0]["selector"], "tasks/42");
    assert_eq!(topics[0]["count"], 2);
    let mut subjects: Vec<&str> = topics[0]["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .map(|c| c["subject"].as_str().expect("subject"))
        .collect();
    subjects.sort_unstable();
    assert_eq!(subjects, ["alice", "bob"]);
    let bob_listed = &topics[1]["clients"][0];
    assert_eq!(
        (topics[1]["selector"].as_str(), topics[1]["count"].as_u64()),
        (Some("deploys/*"), Some(1))
    );
    assert_eq!(bob_listed["client_id"], bob_id.as_str());
    assert!(bob_listed["since"].as_str().expect("since").ends_with('Z'));
    assert!(!bob_listed["node"].as_str().expect("node").is_empty());

    drop(alice);
    let left = watcher.expect().await;
    assert_eq!(
        change(&left),
        (
            "presence.leave".into(),
            "tasks/42".into(),
            json!("alice"),
            1,
            alice_id
        )
    );

    // `*` and no filter at all see no presence event, live or replayed: the first thing
    // either gets is the marker published after all of the above.
    let unfiltered = resume(&app, &all, "", "0").await;
    let marker = publish_marker(&app, "tasks/42").await;
    for mut stream in [everything, unfiltered] {
        assert_eq!(stream.expect().await.id, marker);
    }

    let counted = metrics(&app.address).await;
    assert_eq!(
        counted["taskhub_presence_joins_total"], 4.0,
        "the `*` stream, alice, and bob on two selectors"
    );
    assert_eq!(counted["taskhub_presence_leaves_total"], 1.0);
    assert_eq!(counted["taskhub_presence_errors_total"], 0.0);

    // Replay: resuming after the first join gives the rest, as it gives any event.
    let mut replayed = resume(&app, &all, &query("$presence/tasks/*"), &first.id).await;
    assert_eq!(replayed.expect().await.id, bob_joined.id);
    assert_eq!(replayed.expect().await.id, left.id);
}

#[tokio::test]
async fn a_reconnect_and_a_second_tab_within_the_grace_announce_nothing() {
    let app = app(&[]).await;
    let all = token(Some("watcher"), &["*"]);
    let alice = token(Some("alice"), &["*"]);
    let (mut watcher, _) = open(&app, &all, &query("$presence/*")).await;

    let (tab1, _) = open(&app, &alice, &query("tasks/7")).await;
    assert_eq!(change(&watcher.expect().await).0, "presence.join");
    let (tab2, _) = open(&app, &alice, &query("tasks/7")).await;
    drop(tab1);
    // Like EventSource after a network blip: gone, and back within the grace period.
    drop(tab2);
    let (tab3, tab3_id) = open(&app, &alice, &query("tasks/7")).await;
    let listed: Value = presence(&app, &all, "tasks/7")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed["topics"][0]["count"], 1);

    let last_gone = Instant::now();
    drop(tab3);
    // The next presence event is the leave, after the last tab went and the grace ran.
    let left = watcher.expect().await;
    assert!(
        last_gone.elapsed() >= Duration::from_secs(2) - Duration::from_millis(100),
        "left {:?} after the last tab",
        last_gone.elapsed()
    );
    assert_eq!(
        change(&left),
        (
            "presence.leave".into(),
            "tasks/7".into(),
            json!("alice"),
            0,
            tab3_id
        )
    );
}

#[tokio::test]
async fn anonymous_streams_are_each_a_member_and_presence_false_is_neither_listed_nor_counted() {
    let app = app(&[]).await;
    let all = token(Some("watcher"), &["*"]);
    let (mut watcher, _) = open(&app, &all, &query("$presence/*")).await;
    let (_dashboard, _) = open(
        &app,
        &token(Some("dashboard"), &["*"]),
        &format!("{}&presence=false", query("tasks/9")),
    )
    .await;
    let (_one, one_id) = open(&app, &token(None, &["*"]), &query("tasks/9")).await;
    let (_two, two_id) = open(&app, &token(None, &["*"]), &query("tasks/9")).await;
    let joins = [
        change(&watcher.expect().await),
        change(&watcher.expect().await),
    ];
    assert_eq!(
        joins,
        [
            (
                "presence.join".into(),
                "tasks/9".into(),
                Value::Null,
                1,
                one_id
            ),
            (
                "presence.join".into(),
                "tasks/9".into(),
                Value::Null,
                2,
                two_id
            ),
        ]
    );
    let listed: Value = presence(&app, &all, "tasks/9")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed["topics"][0]["count"], 2);
    assert_eq!(
        listed["topics"][0]["clients"]
            .as_array()
            .expect("clients")
            .len(),
        2
    );

    let response = app
        .client
        .get(app.url("/events/stream?topics=a&presence=maybe"))
        .bearer_auth(&all)
        .send()
        .await
        .expect("sent");
    assert_eq!(problem(response, 400).await["parameter"], "presence");
}

#[tokio::test]
async fn presence_needs_credentials_and_a_subscribe_grant_for_each_selector() {
    let app = app(&[]).await;
    let response = app.get("/presence?topics=tasks/42").await;
    problem(response, 401).await;
    let tasks_only = token(Some("t"), &["tasks/*"]);
    assert_eq!(presence(&app, &tasks_only, "tasks/42").await.status(), 200);
    let refused = problem(presence(&app, &tasks_only, "tasks/42,deploys/*").await, 403).await;
    assert!(
        refused["detail"]
            .as_str()
            .expect("detail")
            .contains("deploys/*")
    );
    // Watching presence is subscribing to `$presence/…`: a grant must cover that too.
    let response = app
        .client
        .get(app.url(&format!("/events/stream{}", query("$presence/tasks/42"))))
        .bearer_auth(&tasks_only)
        .send()
        .await
        .expect("sent");
    problem(response, 403).await;
    let with_presence = token(Some("t"), &["tasks/*", "$presence/tasks/*"]);
    open(&app, &with_presence, &query("$presence/tasks/42")).await;

    for bad in [
        "/presence",
        "/presence?topics=",
        "/presence?topics=a&what=1",
    ] {
        let response = app
            .client
            .get(app.url(bad))
            .bearer_auth(&tasks_only)
            .send()
            .await
            .expect("sent");
        problem(response, 400).await;
    }
}

#[tokio::test]
async fn reserved_topics_are_refused_to_publishers_and_hidden_from_mercures_star() {
    let app = app(&["--mercure-jwt-key", SECRET, "--mercure-anonymous"]).await;
    let response = app
        .client
        .get(app.url("/.well-known/mercure?topic=*"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let mut mercure_star = Sse::new(response);
    let all = token(Some("watcher"), &["*"]);
    let (mut watcher, _) = open(&app, &all, &query("$presence/*")).await;
    let (_present, _) = open(&app, &all, &query("tasks/1")).await;
    assert_eq!(watcher.expect().await.event, "presence.join");
    let marker = publish_marker(&app, "tasks/1").await;
    let first = mercure_star.expect().await;
    assert_eq!(
        first.id,
        format!("#{marker}"),
        "the join was not sent to `*`"
    );

    let publisher = token(None, &[]);
    for (body, field) in [
        (
            json!({"event": "x", "data": 1, "topic": "$presence/tasks/42"}),
            "topic",
        ),
        (
            json!([{"event": "x", "data": 1, "topic": "ok"}, {"event": "x", "data": 1, "topic": "$mine"}]),
            "[1].topic",
        ),
    ] {
        let response = app
            .client
            .post(app.url("/events"))
            .bearer_auth(&publisher)
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert_eq!(problem(response, 422).await["field"], field);
    }
    let mercure = encode(
        &Header::new(Algorithm::HS256),
        &json!({"mercure": {"publish": ["*"]}}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("token");
    let response = app
        .client
        .post(app.url("/.well-known/mercure"))
        .bearer_auth(mercure)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("topic=%24presence%2Fx&data=1")
        .send()
        .await
        .expect("sent");
    assert_eq!(problem(response, 422).await["field"], "topic");
}

/// Three nodes on one Redis: members on the victim leave once it is SIGKILLed, within
/// `--presence-ttl-secs`, each announced once; a member on a surviving node stays, and a
/// subject with tabs on two nodes joined once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_nodes_members_leave_within_the_ttl_announced_once() {
    if cluster_mode() {
        return;
    }
    let cluster = ClusterBackend::start();
    let flags = [
        "--jwt-secret",
        SECRET,
        "--presence-grace-secs",
        "1",
        "--presence-ttl-secs",
        "3",
    ];
    let (a, victim, c) = (
        spawn_node(&cluster, &flags, &[]),
        spawn_node(&cluster, &flags, &[]),
        spawn_node(&cluster, &flags, &[]),
    );
    let all = token(Some("watcher"), &["*"]);
    let (mut watcher, _) = open(
        &a,
        &all,
        &format!("{}&presence=false", query("$presence/*,marker")),
    )
    .await;
    let carol = token(Some("carol"), &["*"]);
    let (_carol_on_c, _) = open(&c, &carol, &query("tasks/1")).await;
    let joined = change(&watcher.expect().await);
    assert_eq!(
        (joined.0.as_str(), &joined.2, joined.3),
        ("presence.join", &json!("carol"), 1)
    );
    let (_carol_on_victim, _) = open(&victim, &carol, &query("tasks/1")).await;
    let (_alice_on_victim, _) =
        open(&victim, &token(Some("alice"), &["*"]), &query("tasks/1")).await;
    // Carol's second tab, on another node, is no second join (nor, below, a leave).
    let joined = change(&watcher.expect().await);
    assert_eq!(
        (joined.0.as_str(), &joined.2, joined.3),
        ("presence.join", &json!("alice"), 2)
    );
    let listed: Value = presence(&c, &all, "tasks/1")
        .await
        .json()
        .await
        .expect("JSON");
    let nodes: std::collections::HashSet<&str> = listed["topics"][0]["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .map(|c| c["node"].as_str().expect("node"))
        .collect();
    assert_eq!(
        (listed["topics"][0]["count"].as_u64(), nodes.len()),
        (Some(2), 2)
    );

    victim.signal("KILL");
    let killed = Instant::now();
    let left = change(&watcher.expect().await);
    assert!(
        killed.elapsed() <= Duration::from_secs(3) + Duration::from_millis(500),
        "left {:?} after the kill",
        killed.elapsed()
    );
    assert_eq!(
        (left.0.as_str(), &left.2, left.3),
        ("presence.leave", &json!("alice"), 1)
    );
    // Every node sweeps twice a second: after a few rounds, nothing more was announced
    // (carol still has a tab on c).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let marker = publish_marker(&a, "marker").await;
    assert_eq!(watcher.expect().await.id, marker, "alice left exactly once");
    let listed: Value = presence(&a, &all, "tasks/1")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(listed["topics"][0]["count"], 1);
    assert_eq!(listed["topics"][0]["clients"][0]["subject"], "carol");
}

/// A single node stopping gracefully announces its members' leaves (nobody is left to
/// count them); they are in the log after a restart.
#[tokio::test]
async fn a_single_node_announces_every_leave_when_it_stops() {
    if cluster_mode() {
        return;
    }
    let mut app = app(&[]).await;
    let all = token(Some("watcher"), &["*"]);
    let (mut watcher, _) = open(
        &app,
        &all,
        &format!("{}&presence=false", query("$presence/*")),
    )
    .await;
    let (_alice, _) = open(&app, &token(Some("alice"), &["*"]), &query("tasks/5")).await;
    assert_eq!(change(&watcher.expect().await).0, "presence.join");
    app.signal("TERM");
    assert!(app.wait_exit(Duration::from_secs(15)).is_some(), "stopped");
    app.restart_stopped();
    let page: Value = app
        .client
        .get(app.url(&format!("/events{}", query("$presence/*"))))
        .bearer_auth(&all)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("JSON");
    let kinds: Vec<(&str, &str, u64)> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["event"].as_str().expect("type"),
                e["data"]["subject"].as_str().expect("subject"),
                e["data"]["count"].as_u64().expect("count"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("presence.join", "alice", 1),
            ("presence.leave", "alice", 0)
        ]
    );
}

/// A cluster node stopping gracefully leaves its members to the grace period: one that
/// reconnects to another node (a rolling restart) causes no leave and no join; one that
/// does not leaves once the grace ran out, announced by a surviving node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_node_stopping_leaves_its_members_to_the_grace_period() {
    if cluster_mode() {
        return;
    }
    let cluster = ClusterBackend::start();
    let flags = ["--jwt-secret", SECRET, "--presence-grace-secs", "3"];
    let (a, mut stopping) = (
        spawn_node(&cluster, &flags, &[]),
        spawn_node(&cluster, &flags, &[]),
    );
    let all = token(Some("watcher"), &["*"]);
    let (mut watcher, _) = open(
        &a,
        &all,
        &format!("{}&presence=false", query("$presence/*,marker")),
    )
    .await;
    let alice = token(Some("alice"), &["*"]);
    let (mut alice_tab, _) = open(&stopping, &alice, &query("tasks/3")).await;
    assert_eq!(change(&watcher.expect().await).2, json!("alice"));
    let (_bob_tab, _) = open(&stopping, &token(Some("bob"), &["*"]), &query("tasks/3")).await;
    assert_eq!(change(&watcher.expect().await).2, json!("bob"));

    stopping.signal("TERM");
    assert!(alice_tab.next().await.is_none(), "the stream ends");
    let (_alice_back, _) = open(&a, &alice, &query("tasks/3")).await;
    let left = change(&watcher.expect().await);
    assert_eq!(
        (left.0.as_str(), &left.2, left.3),
        ("presence.leave", &json!("bob"), 1)
    );
    assert!(
        stopping.wait_exit(Duration::from_secs(15)).is_some(),
        "stopped"
    );
    let marker = publish_marker(&a, "marker").await;
    assert_eq!(
        watcher.expect().await.id,
        marker,
        "alice neither left nor joined"
    );
}

#[test]
fn presence_settings_out_of_range_are_refused_at_start() {
    assert_refused_at_start(
        &["--presence-ttl-secs", "2"],
        "--presence-ttl-secs must be at least 3 seconds",
    );
    assert_refused_at_start(
        &["--presence-grace-secs", "3601"],
        "--presence-grace-secs must be at most 3600 seconds",
    );
}
