//! The tasks API (contract §4): each change and its event commit together.

use serde_json::{Value, json};

use crate::helpers::{envelope, problem, spawn_app};

async fn create(app: &crate::helpers::TestApp, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/tasks"))
        .json(&body)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn create_read_update_delete_each_emit_their_event() {
    let app = spawn_app().await;
    let mut sse = app.subscribe("", None).await.connected().await;

    let response = create(
        &app,
        json!({"title": "Write docs", "description": "README"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let task: Value = response.json().await.expect("JSON");
    let id = task["id"].as_str().expect("string id").to_owned();
    assert_eq!(location, format!("/tasks/{id}"));
    assert_eq!(task["title"], "Write docs");
    assert_eq!(task["description"], "README");
    assert_eq!(task["status"], "todo");
    assert!(
        task["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(task["created_at"], task["updated_at"]);

    let created = sse.expect().await;
    assert_eq!(created.event, "task_created");
    let created = envelope(&created);
    assert_eq!(created["topic"], format!("tasks/{id}"));
    assert_eq!(created["data"]["task_id"], id.as_str());
    assert_eq!(created["data"]["status"], "todo");
    assert_eq!(created["data"]["task"], task);

    let fetched: Value = app.get_json(&location).await;
    assert_eq!(fetched, task);

    let patched = app
        .client
        .patch(app.url(&location))
        .json(&json!({"status": "in_progress", "description": null}))
        .send()
        .await
        .expect("sent");
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.expect("JSON");
    assert_eq!(patched["status"], "in_progress");
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(patched["title"], "Write docs");
    let updated = envelope(&sse.expect().await);
    assert_eq!(updated["event"], "task_updated");
    assert_eq!(updated["data"]["status"], "in_progress");
    assert_eq!(updated["data"]["task"], patched);

    let deleted = app
        .client
        .delete(app.url(&location))
        .send()
        .await
        .expect("sent");
    assert_eq!(deleted.status(), 204);
    let gone = envelope(&sse.expect().await);
    assert_eq!(gone["event"], "task_deleted");
    assert_eq!(gone["data"]["task_id"], id.as_str());
    let missing = app.get(&location).await;
    problem(missing, 404).await;
}

#[tokio::test]
async fn the_seeds_status_call_works_and_unknown_ids_are_404() {
    let app = spawn_app().await;
    let task: Value = create(&app, json!({"title": "t"}))
        .await
        .json()
        .await
        .expect("JSON");
    let id = task["id"].as_str().expect("id");
    let mut sse = app
        .subscribe("?types=task_updated", None)
        .await
        .connected()
        .await;

    let response = app
        .client
        .put(app.url(&format!("/tasks/status/{id}?new_status=done")))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.expect("JSON"),
        json!({"status": "updated"})
    );
    let event = sse.expect().await;
    assert_eq!(event.event, "task_updated");
    // The seed's Python client reads `data.task_id` and `data.status`.
    let data = &envelope(&event)["data"];
    assert_eq!(data["task_id"], id);
    assert_eq!(data["status"], "done");

    for unknown in ["9999", "task-1", "0"] {
        let response = app
            .client
            .put(app.url(&format!("/tasks/status/{unknown}?new_status=done")))
            .send()
            .await
            .expect("sent");
        problem(response, 404).await;
    }
    for bad in ["", "?new_status=", "?new_status=Done", "?new_status=a%20b"] {
        let response = app
            .client
            .put(app.url(&format!("/tasks/status/{id}{bad}")))
            .send()
            .await
            .expect("sent");
        let problem = problem(response, 422).await;
        assert_eq!(problem["field"], "new_status");
    }
    // No event for any failed call.
    sse.assert_quiet(std::time::Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn list_filters_by_status() {
    let app = spawn_app().await;
    for (title, status) in [("a", "todo"), ("b", "done"), ("c", "done")] {
        assert_eq!(
            create(&app, json!({"title": title, "status": status}))
                .await
                .status(),
            201
        );
    }
    let all: Vec<Value> = app.get_json("/tasks").await;
    assert_eq!(all.len(), 3);
    let done: Vec<Value> = app.get_json("/tasks?status=done").await;
    let titles: Vec<_> = done
        .iter()
        .map(|t| t["title"].as_str().expect("title"))
        .collect();
    assert_eq!(titles, ["b", "c"]);
    let bad = app.get("/tasks?status=NOPE").await;
    problem(bad, 400).await;
}

#[tokio::test]
async fn invalid_task_input_is_422_and_emits_nothing() {
    let app = spawn_app().await;
    let mut sse = app.subscribe("", None).await.connected().await;
    for (body, field) in [
        (json!({}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": 5}), "title"),
        (json!({"title": "x".repeat(501)}), "title"),
        (json!({"title": "t", "status": "In Progress"}), "status"),
        (json!({"title": "t", "description": 3}), "description"),
        (json!({"title": "t", "owner": "me"}), "owner"),
    ] {
        let problem = problem(create(&app, body.clone()).await, 422).await;
        assert_eq!(problem["field"], field, "{body}");
    }
    let task: Value = create(&app, json!({"title": "ok"}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(sse.expect().await.event, "task_created");
    let url = app.url(&format!("/tasks/{}", task["id"].as_str().expect("id")));
    let response = app
        .client
        .patch(&url)
        .json(&json!({"status": "NO"}))
        .send()
        .await
        .expect("sent");
    problem(response, 422).await;
    let response = app
        .client
        .patch(app.url("/tasks/424242"))
        .json(&json!({"status": "done"}))
        .send()
        .await
        .expect("sent");
    problem(response, 404).await;
    let response = app
        .client
        .delete(app.url("/tasks/424242"))
        .send()
        .await
        .expect("sent");
    problem(response, 404).await;
    sse.assert_quiet(std::time::Duration::from_millis(300))
        .await;
}
