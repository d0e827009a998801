//! Headless Chromium (Debian's, driven by playwright-core) against the real server: the
//! console at `GET /` (its Board and Events views, audited by axe-core), and the seed
//! guide's JavaScript example.

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

/// The whole console, both views in both themes with the accessibility audit; writes
/// its screenshots to `TASKHUB_SCREENSHOTS` if set (scripts/screenshots.sh sets docs/).
#[tokio::test]
async fn the_console_board_and_events_views_work_and_pass_the_accessibility_audit() {
    let mut app = spawn_app_with(&["--retry-ms", "300"]).await;
    let favicon = app.get("/favicon.ico").await;
    assert_eq!(favicon.status(), 200);
    assert_eq!(favicon.headers()["content-type"], "image/x-icon");
    let icon = favicon.bytes().await.expect("the icon");
    assert_eq!(&icon[..4], &[0, 0, 1, 0], "an ICO file");

    let directory = std::env::var("TASKHUB_SCREENSHOTS")
        .unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_owned());
    let pictures = ["console-board.png", "console-events.png"]
        .map(|name| std::path::Path::new(&directory).join(name));
    for picture in &pictures {
        let _ = std::fs::remove_file(picture);
    }
    let mut script = Script::node("console.mjs", &[&app.address, &directory]);
    while let Some(request) = script.next_request().await {
        assert_eq!(request["await"], "restart", "unknown request {request}");
        app.crash_and_restart();
        script.answer(&json!({ "restarted": true }));
    }
    for picture in &pictures {
        let size = std::fs::metadata(picture)
            .expect("the screenshot was taken")
            .len();
        assert!(size > 10_000, "{} is not empty", picture.display());
    }
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
