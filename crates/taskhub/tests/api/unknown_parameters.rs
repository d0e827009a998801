//! A query parameter the stream endpoint does not know (`?type=` for `?types=`) is a 400
//! naming it and the nearest known one, instead of being ignored while everything
//! streams; `_…` cache busters pass, and every parameter the OpenAPI document lists is
//! known.

use serde_json::Value;

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn an_unknown_stream_parameter_is_named_with_the_nearest_known_one() {
    let app = spawn_app().await;
    for (query, unknown, nearest) in [
        ("?type=task_updated", "type", "types"),
        ("?types=a&topic=tasks/1", "topic", "topics"),
        ("?lastEventId=3", "lastEventId", "last_event_id"),
    ] {
        let response = app.get(&format!("/events/stream{query}")).await;
        let problem = problem(response, 400).await;
        assert_eq!(problem["parameter"], unknown, "{query}: {problem}");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail.contains(&format!("did you mean \"{nearest}\"?")),
            "{query}: {detail}"
        );
        assert!(!detail.contains('`'), "plain words: {detail}");
    }
}

#[tokio::test]
async fn cache_busters_and_every_documented_parameter_are_accepted() {
    let app = spawn_app().await;
    let document: Value = app.get_json("/openapi.json").await;
    let parameters = document["paths"]["/events/stream"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().expect("a name").to_owned())
        .collect::<Vec<_>>();
    assert!(parameters.len() >= 5, "{parameters:?}");
    for name in parameters {
        // A value each accepts (the token is ignored with authentication off).
        let value = match name.as_str() {
            "typed" => "false",
            "last_event_id" => "0",
            _ => "x",
        };
        let response = app
            .get(&format!("/events/stream?{name}={value}&_=1712345678"))
            .await;
        assert_eq!(response.status(), 200, "{name}");
    }
}
