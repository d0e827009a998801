//! Cluster mode (issue 5): several nodes on one Redis Stream and one PostgreSQL database.
//! Every test here starts its own `redis-server` and database (`cluster_support`), so it
//! runs in the default run of the suite; the cluster run (`TASKHUB_TEST_BACKEND=cluster`),
//! which repeats the whole contract suite on cluster nodes, skips these to save time.

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::cluster_support::{ClusterBackend, cluster_mode};
use crate::helpers::{PATIENCE, Sse, TestApp, envelope, problem, spawn_app, spawn_node};

/// A small deterministic generator: which node each publish goes to.
struct Picker(u64);

impl Picker {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64 | 1)
}

/// Reads events until every id in `wanted` was seen; returns (id, data `n`) in order.
async fn read_until_all(sse: &mut Sse, wanted: &HashSet<u64>) -> Vec<(u64, u64)> {
    let mut seen = Vec::new();
    let mut missing = wanted.clone();
    while !missing.is_empty() {
        let event = sse.expect().await;
        let id: u64 = event.id.parse().expect("integer id");
        missing.remove(&id);
        let n = envelope(&event)["data"]["n"].as_u64().expect("n");
        seen.push((id, n));
    }
    seen
}

fn assert_strictly_increasing(ids: &[(u64, u64)]) {
    for pair in ids.windows(2) {
        assert!(
            pair[0].0 < pair[1].0,
            "out of order or duplicated: {pair:?}"
        );
    }
}

async fn post(app: &TestApp, body: &Value) -> Option<reqwest::Response> {
    app.client
        .post(app.url("/events"))
        .body(body.to_string())
        .header("content-type", "application/json")
        .send()
        .await
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_deliver_every_event_to_every_subscriber_in_one_order() {
    if cluster_mode() {
        return;
    }
    let cluster = ClusterBackend::start();
    let nodes: Arc<Vec<TestApp>> =
        Arc::new((0..3).map(|_| spawn_node(&cluster, &[], &[])).collect());
    let mut subscribers = Vec::new();
    for node in nodes.iter() {
        for _ in 0..2 {
            subscribers.push(node.subscribe("", None).await.connected().await);
        }
    }
    // Three publishers, each sending singles and batches to a random node every time.
    let publishers = (0..3u64).map(|p| {
        let nodes = Arc::clone(&nodes);
        tokio::spawn(async move {
            let mut picker = Picker(seed() + p);
            let mut acked = Vec::new();
            for i in 0..40u64 {
                let node = &nodes[picker.next(3)];
                let n = |k: u64| json!({"event": "tick", "data": {"n": p * 1000 + i * 10 + k}});
                let body = if i.is_multiple_of(2) {
                    n(0)
                } else {
                    Value::Array((0..4).map(n).collect())
                };
                let response = node.post_events(&body).await;
                assert_eq!(response.status(), 202);
                let answer: Value = response.json().await.expect("JSON");
                let ids = match &answer["ids"] {
                    Value::Array(ids) => ids.clone(),
                    _ => vec![answer["id"].clone()],
                };
                acked.extend(
                    ids.iter()
                        .map(|id| id.as_str().expect("id").parse::<u64>().expect("integer")),
                );
            }
            acked
        })
    });
    let mut acked = HashSet::new();
    for publisher in publishers.collect::<Vec<_>>() {
        acked.extend(publisher.await.expect("publisher"));
    }
    assert_eq!(acked.len(), 3 * 20 * 5, "every id distinct");
    let mut orders = Vec::new();
    for sse in &mut subscribers {
        let seen = read_until_all(sse, &acked).await;
        assert_strictly_increasing(&seen);
        assert_eq!(seen.len(), acked.len(), "nothing but what was published");
        orders.push(seen);
    }
    for order in &orders[1..] {
        assert_eq!(order, &orders[0], "every subscriber sees one order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_nodes_subscribers_resume_on_another_node_losslessly() {
    if cluster_mode() {
        return;
    }
    let cluster = ClusterBackend::start();
    let (a, victim, c) = (
        spawn_node(&cluster, &[], &[]),
        spawn_node(&cluster, &[], &[]),
        spawn_node(&cluster, &[], &[]),
    );
    let mut moving = victim.subscribe("", None).await.connected().await;
    let mut staying = c.subscribe("", None).await.connected().await;
    let publishing = Arc::new(AtomicBool::new(true));
    let publisher = {
        let (a, c) = (Arc::new(a), Arc::new(c));
        let (pa, pc, flag) = (Arc::clone(&a), Arc::clone(&c), Arc::clone(&publishing));
        let task = tokio::spawn(async move {
            let mut acked = HashSet::new();
            let mut i = 0u64;
            while flag.load(Ordering::Relaxed) || i < 100 {
                let node = if i.is_multiple_of(2) { &pa } else { &pc };
                acked.extend(
                    node.publish_batch(i as usize * 2, 2)
                        .await
                        .iter()
                        .map(|id| id.parse::<u64>().expect("id")),
                );
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            acked
        });
        (task, c)
    };
    // Mid-stream: the victim dies while its subscriber is reading.
    let mut before = Vec::new();
    while before.len() < 60 {
        let event = moving.expect().await;
        before.push(event.id.parse::<u64>().expect("id"));
    }
    victim.signal("KILL");
    while let Some(event) = moving.next().await {
        before.push(event.id.parse::<u64>().expect("id"));
    }
    let last = before.last().expect("some events").to_string();
    let (task, c) = publisher;
    // It reconnects to another node with its Last-Event-ID, as EventSource does.
    let mut resumed = c.subscribe("", Some(&last)).await.connected().await;
    publishing.store(false, Ordering::Relaxed);
    let acked = task.await.expect("publisher");
    let rest: HashSet<u64> = acked
        .iter()
        .copied()
        .filter(|id| *id > before[before.len() - 1])
        .collect();
    let after: Vec<u64> = read_until_all(&mut resumed, &rest)
        .await
        .iter()
        .map(|(id, _)| *id)
        .collect();
    let moving_saw: Vec<u64> = before.into_iter().chain(after).collect();
    let control: Vec<u64> = read_until_all(&mut staying, &acked)
        .await
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        moving_saw, control,
        "no loss, no duplicate, same order as a subscriber that stayed"
    );
    let mut sorted: Vec<u64> = acked.into_iter().collect();
    sorted.sort_unstable();
    assert_eq!(control, sorted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_loses_no_acknowledged_event_and_acknowledges_nothing_false() {
    if cluster_mode() {
        return;
    }
    let mut cluster = ClusterBackend::start();
    let nodes: Arc<Vec<TestApp>> = Arc::new(
        (0..2)
            .map(|_| spawn_node(&cluster, &["--keepalive-secs", "1"], &[]))
            .collect(),
    );
    let mut subscribers = Vec::new();
    for node in nodes.iter() {
        subscribers.push(node.subscribe("", None).await.connected().await);
    }
    let publishing = Arc::new(AtomicBool::new(true));
    let publisher = {
        let (nodes, flag) = (Arc::clone(&nodes), Arc::clone(&publishing));
        tokio::spawn(async move {
            // (n, the id a 202 gave it) for every acknowledged publish; the n refused.
            let (mut acked, mut refused) = (Vec::new(), Vec::new());
            let mut n = 0u64;
            while flag.load(Ordering::Relaxed) {
                let node = &nodes[(n % 2) as usize];
                match post(node, &json!({"event": "tick", "data": {"n": n}})).await {
                    Some(r) if r.status() == 202 => {
                        let answer: Value = r.json().await.expect("JSON");
                        let id = answer["id"]
                            .as_str()
                            .expect("id")
                            .parse::<u64>()
                            .expect("int");
                        acked.push((n, id));
                    }
                    Some(r) => {
                        assert_eq!(r.status(), 503, "refused as unavailable");
                        refused.push(n);
                    }
                    None => refused.push(n),
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (acked, refused, n)
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.redis.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for node in nodes.iter() {
        let ready = node.get("/readyz").await;
        assert_eq!(ready.status(), 503, "not ready without Redis");
        let task = node
            .client
            .post(node.url("/tasks"))
            .body(r#"{"title":"during the outage"}"#)
            .send()
            .await
            .expect("sent");
        assert_eq!(task.status(), 503, "task writes refused without Redis");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| cluster.redis.restart());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    publishing.store(false, Ordering::Relaxed);
    let (acked, refused, attempted) = publisher.await.expect("publisher");
    let (first_refused, last_refused) = match (refused.first(), refused.last()) {
        (Some(first), Some(last)) => (*first, *last),
        _ => panic!("no publish fell in the outage"),
    };
    assert!(
        acked.iter().any(|(n, _)| *n < first_refused),
        "acknowledged before"
    );
    assert!(
        acked.iter().any(|(n, _)| *n > last_refused),
        "and after the outage"
    );
    let wanted: HashSet<u64> = acked.iter().map(|(_, id)| *id).collect();
    let mut orders = Vec::new();
    for sse in &mut subscribers {
        // The streams stayed open through the outage: these are the same connections.
        let seen = read_until_all(sse, &wanted).await;
        assert_strictly_increasing(&seen);
        for (n, id) in &acked {
            assert!(
                seen.contains(&(*id, *n)),
                "acknowledged event {id} (n={n}) delivered as acknowledged"
            );
        }
        assert!(seen.iter().all(|(_, n)| *n < attempted));
        orders.push(seen);
    }
    assert_eq!(
        orders[0], orders[1],
        "both nodes' subscribers caught up in one order"
    );
    for node in nodes.iter() {
        let ready = node.get("/readyz").await;
        assert_eq!(ready.status(), 200, "ready again");
    }
}

/// A node armed to crash at `failpoint` takes a task write; another node's sweep must turn
/// the change into exactly one event.
async fn crash_in_the_relay(failpoint: &str) {
    let cluster = ClusterBackend::start();
    let healthy = spawn_node(&cluster, &[], &[]);
    let doomed = spawn_node(&cluster, &[], &[("TASKHUB_FAILPOINT", failpoint)]);
    let mut sse = healthy
        .subscribe("?types=task_*", None)
        .await
        .connected()
        .await;
    let crashed = doomed
        .client
        .post(doomed.url("/tasks"))
        .body(r#"{"title":"survives the crash"}"#)
        .send()
        .await;
    assert!(
        crashed.is_err(),
        "the node died before answering: {crashed:?}"
    );
    let event = sse.expect().await;
    assert_eq!(event.event, "task_created");
    assert_eq!(
        envelope(&event)["data"]["task"]["title"],
        "survives the crash"
    );
    // Several sweeps later, still exactly one event, and the outbox is empty.
    sse.assert_quiet(Duration::from_secs(3)).await;
    assert_eq!(
        cluster
            .database
            .query("SELECT count(*) FROM taskhub_outbox"),
        "0"
    );
    assert_eq!(
        cluster.database.query("SELECT count(*) FROM taskhub_tasks"),
        "1"
    );
    assert_eq!(cluster.redis.cli(&["XLEN", "taskhub:events"]), "1");
    // The task is there, and the next change of it yields its own one event.
    let tasks: Value = healthy.get_json("/tasks").await;
    assert_eq!(tasks[0]["title"], "survives the crash");
    let updated = healthy
        .client
        .put(healthy.url("/tasks/status/1?new_status=done"))
        .send()
        .await
        .expect("sent");
    assert_eq!(updated.status(), 200);
    let event = sse.expect().await;
    assert_eq!(event.event, "task_updated");
    assert_eq!(event.id, "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_task_commit_and_the_append_still_yields_one_event() {
    if cluster_mode() {
        return;
    }
    crash_in_the_relay("relay-after-commit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_append_and_the_outbox_delete_yields_no_second_event() {
    if cluster_mode() {
        return;
    }
    crash_in_the_relay("relay-after-xadd").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_refuses_task_writes_while_events_still_flow() {
    if cluster_mode() {
        return;
    }
    let cluster = ClusterBackend::start();
    let node = spawn_node(&cluster, &[], &[]);
    let mut sse = node.subscribe("", None).await.connected().await;
    cluster.database.admin(
        "ALTER DATABASE {db} WITH ALLOW_CONNECTIONS false; \
         SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{db}'",
    );
    let create = node
        .client
        .post(node.url("/tasks"))
        .body(r#"{"title":"no database"}"#)
        .send()
        .await
        .expect("sent");
    problem(create, 503).await;
    let ready = node.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let id = node.publish("still.flowing", json!({"n": 1}), None).await;
    let event = sse.expect().await;
    assert_eq!(
        (event.event.as_str(), event.id.as_str()),
        ("still.flowing", id.as_str())
    );

    cluster
        .database
        .admin("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS true");
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let create = node
            .client
            .post(node.url("/tasks"))
            .body(r#"{"title":"database back"}"#)
            .send()
            .await
            .expect("sent");
        if create.status() == 201 {
            break;
        }
        assert_eq!(create.status(), 503);
        assert!(
            std::time::Instant::now() < deadline,
            "task writes never recovered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sse.expect().await.event, "task_created");
    node.await_ready(PATIENCE).await;
}

/// Redis and PostgreSQL that answer but refuse writes: `/readyz` must say so (a round
/// trip alone would pass), and turn 200 by itself once they take writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_while_redis_or_postgres_answer_but_refuse_writes() {
    if cluster_mode() {
        return;
    }
    let cluster = ClusterBackend::start();
    let node = spawn_node(&cluster, &[], &[]);
    let mut tasks = node
        .subscribe("?types=task_*", None)
        .await
        .connected()
        .await;
    node.await_ready(PATIENCE).await;

    // Redis over its memory limit (noeviction, the default) answers PING, refuses writes.
    let max_memory = |bytes: &str| cluster.redis.cli(&["CONFIG", "SET", "maxmemory", bytes]);
    assert_eq!(max_memory("1"), "OK");
    assert_eq!(cluster.redis.cli(&["PING"]), "PONG");
    problem(node.get("/readyz").await, 503).await;
    problem(post_event(&node).await, 503).await;
    // A task change commits in PostgreSQL; its event waits in the outbox (docs/cluster.md).
    assert_eq!(create_task(&node).await.status(), 201);
    assert_eq!(max_memory("0"), "OK");
    node.await_ready(PATIENCE).await;
    assert_eq!(post_event(&node).await.status(), 202);
    assert_eq!(tasks.expect().await.event, "task_created");

    // A read-only database (as a standby would be) answers SELECT, refuses writes. The
    // setting reaches new sessions, so the node's are ended.
    let end_sessions =
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{db}'";
    cluster.database.admin(&format!(
        "ALTER DATABASE {{db}} SET default_transaction_read_only = on; {end_sessions}"
    ));
    problem(node.get("/readyz").await, 503).await;
    problem(create_task(&node).await, 503).await;
    assert_eq!(post_event(&node).await.status(), 202, "events still flow");
    cluster.database.admin(&format!(
        "ALTER DATABASE {{db}} RESET default_transaction_read_only; {end_sessions}"
    ));
    node.await_ready(PATIENCE).await;
    assert_eq!(create_task(&node).await.status(), 201);
}

async fn post_event(node: &TestApp) -> reqwest::Response {
    node.post_events(&json!({"event": "tick", "data": {"n": 1}}))
        .await
}

async fn create_task(node: &TestApp) -> reqwest::Response {
    node.client
        .post(node.url("/tasks"))
        .body(r#"{"title":"t"}"#)
        .send()
        .await
        .expect("sent")
}

/// Runs `taskhub serve` with `args`, which must refuse to start; returns its stderr.
fn refused(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("taskhub runs");
    assert!(!output.status.success(), "{args:?} started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn configurations_that_make_no_sense_are_refused_at_start_up() {
    if cluster_mode() {
        return;
    }
    let why = refused(&[
        "--database-url",
        "postgres://postgres@127.0.0.1:5432/postgres",
    ]);
    assert!(why.contains("add --redis-url"), "{why}");
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = format!("sqlite://{}", dir.path().join("t.db").display());
    let why = refused(&[
        "--redis-url",
        "redis://127.0.0.1:1",
        "--database-url",
        &file,
    ]);
    assert!(
        why.contains("tasks would stay in this node's SQLite"),
        "{why}"
    );
    let why = refused(&["--database-url", "mysql://localhost/x"]);
    assert!(why.contains("unsupported database scheme"), "{why}");

    // Two servers on one SQLite file would hand out the same ids.
    let first = spawn_app().await;
    let shared = format!("sqlite://{}", first.dir.path().join("taskhub.db").display());
    let why = refused(&["--database-url", &shared]);
    assert!(
        why.contains("several servers cannot share one SQLite file"),
        "{why}"
    );
    // The first one is unharmed.
    first.publish("still.mine", json!({}), None).await;
}

#[tokio::test]
async fn task_text_postgres_cannot_hold_as_text_still_round_trips() {
    if cluster_mode() {
        return;
    }
    // U+0000 is valid JSON and a valid title on one node; PostgreSQL's TEXT refuses it.
    let cluster = ClusterBackend::start();
    let node = spawn_node(&cluster, &[], &[]);
    let body = json!({"title": "a\u{0}b", "description": "c\u{0}d"});
    let created = node
        .client
        .post(node.url("/tasks"))
        .body(body.to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(created.status(), 201);
    let task: Value = node.get_json("/tasks/1").await;
    assert_eq!(
        (task["title"].clone(), task["description"].clone()),
        (json!("a\u{0}b"), json!("c\u{0}d"))
    );
}

/// What the maintenance task keeps bounded: the topics' latest events (issue 16) are
/// forgotten once trimmed, by size or by age, and age trims the stream for every node.
#[tokio::test]
async fn trimmed_events_leave_no_latest_behind_and_age_trims_for_every_node() {
    if cluster_mode() {
        return;
    }
    let cluster = ClusterBackend::start();
    let flags = ["--history-size", "5", "--history-max-age", "2s"];
    let (first, second) = (
        spawn_node(&cluster, &flags, &[]),
        spawn_node(&cluster, &flags, &[]),
    );
    for i in 0..50 {
        let topic = format!("t/{i}");
        first.publish("a", json!(i), Some(&topic)).await;
    }
    let remembered =
        |hash: &str| -> usize { cluster.redis.cli(&["HLEN", hash]).parse().expect("a count") };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while remembered("taskhub:latest") > 5 || remembered("taskhub:latest_public") > 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "trimmed topics stay remembered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let latest: Value = second.get_json("/topics/t/49/latest").await;
    assert_eq!(latest["data"], 49);
    problem(second.get("/topics/t/0/latest").await, 404).await;
    while remembered("taskhub:latest") > 0 || cluster.redis.cli(&["XLEN", "taskhub:events"]) != "0"
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expired events stay"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    problem(second.get("/topics/t/49/latest").await, 404).await;
    assert_eq!(
        second.publish("a", json!("next"), None).await,
        "51",
        "ids go on"
    );
}
