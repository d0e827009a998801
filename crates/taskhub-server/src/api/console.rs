//! `GET /`, `GET /assets/{file}` and `GET /favicon.ico`: the console (the task board and
//! the live event tail), compiled into the binary so users need no separate build or web
//! server. The page is plain HTML, CSS and JavaScript modules
//! (`crates/taskhub-server/assets/`) over the public API: the tasks, `POST /events`,
//! `GET /events/stream` and `GET /metrics`.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const PAGE: &str = include_str!("../../assets/console.html");
const FAVICON: &[u8] = include_bytes!("../../assets/favicon.ico");

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// Every file under `/assets/`: its name, content type and text.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/console.css"),
    ),
    ("main.js", JAVASCRIPT, include_str!("../../assets/main.js")),
    ("api.js", JAVASCRIPT, include_str!("../../assets/api.js")),
    ("feed.js", JAVASCRIPT, include_str!("../../assets/feed.js")),
    (
        "board.js",
        JAVASCRIPT,
        include_str!("../../assets/board.js"),
    ),
    (
        "events.js",
        JAVASCRIPT,
        include_str!("../../assets/events.js"),
    ),
    (
        "words.js",
        JAVASCRIPT,
        include_str!("../../assets/words.js"),
    ),
];

/// Browsers revalidate on every load, so a new binary's page is picked up at once.
const CACHE: HeaderValue = HeaderValue::from_static("no-cache");

pub(crate) async fn page() -> Response {
    asset_response("text/html; charset=utf-8", PAGE)
}

pub(crate) async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(name, _, _)| *name == file.as_str())
        .map(|&(_, content_type, body)| asset_response(content_type, body))
        .ok_or_else(|| ApiError::NoRoute(format!("/assets/{file}")))
}

pub(crate) async fn favicon() -> Response {
    asset_response("image/x-icon", FAVICON)
}

fn asset_response(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, CACHE);
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
