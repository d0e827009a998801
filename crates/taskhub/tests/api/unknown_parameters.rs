//! A query parameter the stream or history endpoint does not know (`?type=` for
//! `?types=`) is a 400 naming it and the nearest known one, instead of being ignored
//! while everything streams; `_…` cache busters pass, and every parameter the OpenAPI
//! document lists is known.

use serde_json::Value;

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn an_unknown_stream_parameter_is_named_with_the_nearest_known_one() {
    let app = spawn_app().await;
    for (path, unknown, nearest) in [
        ("/events/stream?type=task_updated", "type", "types"),
        ("/events/stream?types=a&topic=tasks/1", "topic", "topics"),
        (
            "/events/stream?lastEventId=3",
            "lastEventId",
            "last_event_id",
        ),
        ("/events/stream?rewnd=5", "rewnd", "rewind"),
        ("/events?type=task_updated", "type", "types"),
        ("/events?limit=5&ordr=desc", "ordr", "order"),
    ] {
        let query = path;
        let response = app.get(path).await;
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
    for path in ["/events/stream", "/events"] {
        let parameters = document["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().expect("a name").to_owned())
            .collect::<Vec<_>>();
        assert!(parameters.len() >= 5, "{path}: {parameters:?}");
        for name in parameters {
            // A value each accepts (the token is ignored with authentication off).
            let value = match name.as_str() {
                "typed" | "presence" => "false",
                "last_event_id" | "after" | "before" | "rewind" => "0",
                "limit" => "5",
                "order" => "desc",
                "since" => "2026-01-01T00:00:00Z",
                _ => "x",
            };
            let response = app
                .get(&format!("{path}?{name}={value}&_=1712345678"))
                .await;
            assert_eq!(response.status(), 200, "{path}?{name}={value}");
        }
    }
}
