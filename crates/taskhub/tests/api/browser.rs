//! Headless Chromium (Debian's, driven by playwright-core) against the real server: the
//! task board at `GET /`, and the seed guide's JavaScript example.

use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_app_with};
use crate::scripts::Script;

#[tokio::test]
async fn the_board_is_live_for_two_people_and_resumes_after_a_crash() {
    let mut app = spawn_app_with(&["--retry-ms", "300"]).await;
    let screenshot = concat!(env!("CARGO_TARGET_TMPDIR"), "/board.png");
    let _ = std::fs::remove_file(screenshot);
    let mut script = Script::node("board.mjs", &[&app.address, screenshot]);
    while let Some(request) = script.next_request().await {
        assert_eq!(request["await"], "restart", "unknown request {request}");
        app.crash_and_restart();
        script.answer(&json!({ "restarted": true }));
    }
    let picture = std::fs::metadata(screenshot).expect("the screenshot was taken");
    assert!(picture.len() > 10_000, "the screenshot is not empty");
}

#[tokio::test]
async fn the_seed_javascript_example_works_typed_and_with_typed_false() {
    let app = spawn_app_with(&[]).await;
    Script::node("seed_example.mjs", &[&app.address])
        .finish()
        .await;
}

#[tokio::test]
async fn the_board_retries_after_a_503_and_loses_nothing() {
    let mut app = spawn_app_with(&["--max-clients", "1", "--keepalive-secs", "1"]).await;
    let mut script = Script::node("board_backoff.mjs", &[&app.address]);
    let request = script.next_request().await.expect("a request");
    assert_eq!(request["await"], "restart and take the only stream slot");
    app.crash_and_restart();
    let slot_taker = app.subscribe("", None).await;
    script.answer(&json!({}));
    let request = script.next_request().await.expect("a request");
    assert_eq!(request["await"], "free the slot");
    drop(slot_taker);
    script.answer(&json!({}));
    script.finish().await;
}

#[tokio::test]
async fn the_board_retries_a_write_whose_answer_was_lost_and_applies_it_once() {
    let app = spawn_app().await;
    Script::node("board_lost_answer.mjs", &[&app.address])
        .finish()
        .await;
    let tasks: Vec<Value> = app.get_json("/tasks").await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(tasks[0]["status"], "done");
}

#[tokio::test]
async fn the_board_asks_for_a_token_when_the_server_needs_one() {
    const SECRET: &str = "a-board-test-secret-of-32-bytes-or-more";
    let app = spawn_app_with(&["--jwt-secret", SECRET]).await;
    let minted = std::process::Command::new(env!("CARGO_BIN_EXE_taskhub"))
        .args(["token", "--secret", SECRET])
        .args(["--subscribe", "tasks/*", "--publish", "tasks/*"])
        .output()
        .expect("taskhub token runs");
    assert!(minted.status.success(), "{minted:?}");
    let token = String::from_utf8(minted.stdout).expect("UTF-8");
    Script::node("board_sign_in.mjs", &[&app.address, token.trim()])
        .finish()
        .await;
}
