//! Crashes, restarts and shutdown: acknowledged events survive, ids keep increasing.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{assert_refused_at_start, id_range, serve_command, spawn_app, spawn_app_with};

#[tokio::test]
async fn acknowledged_events_survive_sigkill() {
    let mut app = spawn_app().await;
    const PUBLISHERS: u64 = 20;
    const EACH: u64 = 100;
    let publishers = (0..PUBLISHERS).map(|p| {
        let client = app.client.clone();
        let url = app.url("/events");
        tokio::spawn(async move {
            for i in 0..EACH {
                let body = json!({"event": "tick", "data": {"p": p, "i": i}}).to_string();
                let response = client.post(&url).body(body).send().await.expect("sent");
                assert_eq!(response.status(), 202);
            }
        })
    });
    for publisher in publishers.collect::<Vec<_>>() {
        publisher.await.expect("publisher");
    }
    // Right after the last 202: no graceful anything.
    app.crash_and_restart();

    let mut sse = app.subscribe("", Some("0")).await.connected().await;
    let mut seen = std::collections::HashSet::new();
    let ids = sse.ids((PUBLISHERS * EACH) as usize).await;
    assert_eq!(ids, id_range(1, PUBLISHERS * EACH));
    // And every publisher's events are there, in its own order.
    let mut replay = app.subscribe("", Some("0")).await.connected().await;
    let mut next_of = vec![0u64; PUBLISHERS as usize];
    for _ in 0..PUBLISHERS * EACH {
        let data = crate::helpers::envelope(&replay.expect().await)["data"].clone();
        let (p, i) = (
            data["p"].as_u64().expect("p"),
            data["i"].as_u64().expect("i"),
        );
        assert!(seen.insert((p, i)), "duplicate {p}/{i}");
        assert_eq!(next_of[p as usize], i, "publisher {p} out of order");
        next_of[p as usize] += 1;
    }
}

#[tokio::test]
async fn ids_and_history_survive_restarts() {
    let mut app = spawn_app().await;
    app.publish_batch(0, 3).await;
    app.signal("TERM");
    assert!(
        app.wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
    app.restart_stopped();
    assert_eq!(app.publish("after", json!(1), None).await, "4");
    app.crash_and_restart();
    assert_eq!(app.publish("after", json!(2), None).await, "5");
    let mut sse = app.subscribe("", Some("2")).await.connected().await;
    assert_eq!(sse.ids(3).await, id_range(3, 5));
}

#[tokio::test]
async fn tasks_survive_restarts() {
    let mut app = spawn_app().await;
    let task: Value = app.post_json("/tasks", &json!({"title": "durable"})).await;
    app.crash_and_restart();
    let id = task["id"].as_str().expect("id");
    let fetched: Value = app.get_json(&format!("/tasks/{id}")).await;
    assert_eq!(fetched, task);
}

#[tokio::test]
async fn sigterm_ends_streams_and_exits_well_within_the_grace_period() {
    let mut app = spawn_app_with(&["--shutdown-grace-secs", "30"]).await;
    let mut streams = Vec::new();
    for _ in 0..5 {
        streams.push(app.subscribe("", None).await.connected().await);
    }
    app.publish("before", json!(1), None).await;
    let started = std::time::Instant::now();
    app.signal("TERM");
    for sse in &mut streams {
        assert_eq!(sse.expect().await.event, "before");
        assert!(sse.next().await.is_none(), "the stream ends");
    }
    let status = app.wait_exit(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "did not wait for the grace period"
    );
}

/// The signal handlers are in place before the server says it listens: a SIGTERM sent
/// the moment that line appears is a graceful stop, never the default action's kill.
#[tokio::test]
async fn a_sigterm_as_soon_as_it_listens_is_a_graceful_stop() {
    for _ in 0..5 {
        let mut app = spawn_app().await;
        app.signal("TERM");
        let status = app.wait_exit(Duration::from_secs(10)).expect("exits");
        assert!(status.success(), "killed instead of stopped: {status:?}");
    }
}

#[tokio::test]
async fn publishes_acknowledged_during_shutdown_are_kept() {
    let mut app = spawn_app().await;
    let publishers: Vec<_> = (0..8)
        .map(|p| {
            let client = app.client.clone();
            let url = app.url("/events");
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in 0.. {
                    let body = json!({"event": "tick", "data": {"p": p, "i": i}}).to_string();
                    match client.post(&url).body(body).send().await {
                        Ok(response) if response.status() == 202 => {
                            let answer: Value = response.json().await.expect("JSON");
                            acknowledged.push(answer["id"].as_str().expect("id").to_owned());
                        }
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.signal("TERM");
    let mut acknowledged = Vec::new();
    for publisher in publishers {
        acknowledged.extend(publisher.await.expect("publisher"));
    }
    assert!(
        app.wait_exit(Duration::from_secs(15))
            .is_some_and(|s| s.success())
    );
    assert!(!acknowledged.is_empty());
    app.restart_stopped();
    let mut sse = app.subscribe("", Some("0")).await.connected().await;
    let stored: std::collections::HashSet<String> =
        sse.ids(acknowledged.len()).await.into_iter().collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged event {id} was lost");
    }
}

#[test]
fn refuses_a_public_address_without_authentication() {
    let dir = tempfile::tempdir().expect("dir");
    let output = serve_command(dir.path(), "0.0.0.0:0")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--allow-unauthenticated"), "{stderr}");
}

#[test]
fn a_public_address_with_the_opt_in_serves() {
    crate::helpers::assert_serves_on_a_public_address(&["--allow-unauthenticated"]);
}

#[test]
fn every_setting_has_a_flag_an_environment_variable_and_a_shown_default() {
    let output = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args(["serve", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for (flag, env, default) in [
        ("--addr", "TASKHUB_ADDR", "127.0.0.1:8000"),
        (
            "--database-url",
            "TASKHUB_DATABASE_URL",
            "sqlite://taskhub.db",
        ),
        (
            "--allow-unauthenticated",
            "TASKHUB_ALLOW_UNAUTHENTICATED",
            "",
        ),
        ("--max-clients", "TASKHUB_MAX_CLIENTS", "10000"),
        ("--keepalive-secs", "TASKHUB_KEEPALIVE_SECS", "15"),
        ("--retry-ms", "TASKHUB_RETRY_MS", "3000"),
        ("--client-buffer", "TASKHUB_CLIENT_BUFFER", "1000"),
        (
            "--slow-client-policy",
            "TASKHUB_SLOW_CLIENT_POLICY",
            "disconnect",
        ),
        ("--history-size", "TASKHUB_HISTORY_SIZE", "100000"),
        ("--max-body-bytes", "TASKHUB_MAX_BODY_BYTES", "1048576"),
        ("--shutdown-grace-secs", "TASKHUB_SHUTDOWN_GRACE_SECS", "10"),
        ("--log-format", "TASKHUB_LOG_FORMAT", "text"),
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
        assert!(help.contains(env), "{env} missing from --help");
        if !default.is_empty() {
            assert!(
                help.contains(&format!("[default: {default}]")),
                "{flag} default missing"
            );
        }
    }
}

#[test]
fn settings_out_of_range_are_refused_naming_the_flag() {
    for (flag, value) in [
        ("--keepalive-secs", "0"),
        ("--body-timeout-secs", "0"),
        ("--client-buffer", "0"),
        ("--client-buffer", "1000001"),
        ("--history-size", "0"),
        ("--max-header-bytes", "8191"),
    ] {
        assert_refused_at_start(&[flag, value], &format!("{flag} must be"));
    }
}

#[test]
fn environment_variables_configure_the_server() {
    let dir = tempfile::tempdir().expect("dir");
    let database = format!("sqlite://{}", dir.path().join("t.db").display());
    let output = Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .arg("serve")
        .env("TASKHUB_ADDR", "0.0.0.0:0")
        .env("TASKHUB_DATABASE_URL", database)
        .output()
        .expect("runs");
    // The address came from the environment: it was refused as public.
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("0.0.0.0"));
}
