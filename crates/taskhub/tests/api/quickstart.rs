//! The README's quickstart: its commands, run against a fresh server, produce the events
//! its "The subscriber sees" block shows, in that order.

use serde_json::json;

use crate::helpers::{envelope, spawn_app};

/// The `event:` and `id:` lines of the README block after "The subscriber sees".
fn readme_events() -> Vec<(Option<String>, String)> {
    let readme = include_str!("../../../../README.md");
    let after = readme
        .split_once("The subscriber sees")
        .expect("the quickstart's block")
        .1;
    let block = after.split("```").nth(1).expect("a code block");
    let mut events = Vec::new();
    let mut id = None;
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("id: ") {
            id = Some(value.to_owned());
        } else if let Some(event) = line.strip_prefix("event: ") {
            events.push((id.take(), event.to_owned()));
        }
    }
    events
}

#[tokio::test]
async fn the_quickstart_produces_what_the_readme_shows() {
    let app = spawn_app().await;
    let mut sse = app.subscribe("", None).await;
    let mut seen = vec![(None, sse.expect().await.event)];
    app.post_json(
        "/events",
        &json!({"event": "deploy.finished", "topic": "deploys/eu", "data": {"version": "1.4.2"}}),
    )
    .await;
    let task = app
        .post_json("/tasks", &json!({"title": "Write the release notes"}))
        .await;
    assert_eq!(task["id"], "1", "the README's PUT names task 1");
    let response = app
        .client
        .put(app.url("/tasks/status/1?new_status=done"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    for _ in 0..3 {
        let event = sse.expect().await;
        assert_eq!(envelope(&event)["id"], event.id);
        seen.push((Some(event.id), event.event));
    }
    assert_eq!(seen, readme_events());
}
