//! An unavailable store: writes answer 503, nothing is claimed published, and the server
//! recovers by itself when the store does.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{SqliteLock, backend_is_sqlite, problem, spawn_app};

#[tokio::test]
async fn a_locked_database_gives_503_and_loses_nothing() {
    // About the SQLite file; cluster mode's outages are in `cluster`.
    if !backend_is_sqlite() {
        return;
    }
    let app = spawn_app().await;
    let mut sse = app.subscribe("", None).await.connected().await;
    // Another process takes the database's write lock and holds it.
    let path = app.dir.path().join("taskhub.db");
    let lock = SqliteLock::take(path);

    let lost = json!({"event": "lost", "data": 1});
    let (publish, task, ready) = tokio::join!(
        app.post_events(&lost),
        app.client
            .post(app.url("/tasks"))
            .json(&json!({"title": "t"}))
            .send(),
        app.client.get(app.url("/readyz")).send(),
    );
    assert_eq!(publish.headers()["retry-after"], "1");
    problem(publish, 503).await;
    problem(task.expect("sent"), 503).await;
    problem(ready.expect("sent"), 503).await;

    lock.release();
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    // No id was spent on the failed writes, and the open stream saw none of them.
    assert_eq!(app.publish("kept", json!(2), None).await, "1");
    let event = sse.expect().await;
    assert_eq!((event.id.as_str(), event.event.as_str()), ("1", "kept"));
    sse.assert_quiet(Duration::from_millis(200)).await;
}
