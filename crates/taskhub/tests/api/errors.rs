//! Routes and methods that do not exist answer problem+json too.

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn unknown_route_and_wrong_method_are_problems() {
    let app = spawn_app().await;
    let response = app.get("/nope").await;
    problem(response, 404).await;
    let response = app
        .client
        .delete(app.url("/events"))
        .send()
        .await
        .expect("request");
    problem(response, 405).await;
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("JSON");
    assert_eq!(body["status"], "ready");
}
