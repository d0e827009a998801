//! Clients built on others' libraries, against the real server: Node's `eventsource`
//! package, Python's `httpx-sse`, and the seed guide's own aiohttp loop.

use std::process::Command;

use serde_json::json;

use crate::clients::survives_a_crash;
use crate::helpers::spawn_app;
use crate::scripts::{Script, js_script, python, repo_root};

#[tokio::test]
async fn node_eventsource_resumes_across_a_server_crash() {
    let script = js_script("node_eventsource.mjs");
    survives_a_crash(|address| {
        let mut command = Command::new("node");
        command.arg(&script).arg(address);
        command
    })
    .await;
}

#[tokio::test]
async fn httpx_sse_resumes_across_a_server_crash() {
    let script = repo_root().join("tests/python/httpx_sse_listen.py");
    survives_a_crash(|address| {
        let mut command = python();
        command.arg(&script).arg(address);
        command
    })
    .await;
}

#[tokio::test]
async fn the_seed_aiohttp_loop_parses_every_event() {
    let app = spawn_app().await;
    let mut command = python();
    command
        .arg(repo_root().join("tests/python/seed_aiohttp.py"))
        .arg(&app.address);
    let mut client = Script::start(command);
    let connected = client.next_line().await;
    assert_eq!(connected["event"], "connected");
    assert_eq!(connected["data"]["message"], "SSE connection established");

    let task: serde_json::Value = app
        .client
        .post(app.url("/tasks"))
        .json(&json!({"title": "Ship it"}))
        .send()
        .await
        .expect("created")
        .json()
        .await
        .expect("a task");
    let id = task["id"].as_str().expect("an id");
    let answer = app
        .client
        .put(app.url(&format!("/tasks/status/{id}?new_status=done")))
        .send()
        .await
        .expect("updated");
    assert_eq!(answer.status(), 200);
    app.publish(
        "note",
        json!({"text": "a\nb", "quote": "\"data: x\""}),
        None,
    )
    .await;

    let created = client.next_line().await;
    assert_eq!(created["event"], "task_created");
    let updated = client.next_line().await;
    assert_eq!(updated["event"], "task_updated");
    assert_eq!(updated["data"]["task_id"], *id);
    assert_eq!(updated["data"]["status"], "done");
    assert!(
        updated["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let note = client.next_line().await;
    assert_eq!(
        note["data"],
        json!({"text": "a\nb", "quote": "\"data: x\""})
    );
}
