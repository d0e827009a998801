//! `GET /` and `GET /assets/{file}`: the live task board, compiled into the binary so
//! users need no separate build or web server. The page is plain HTML, CSS and JavaScript
//! (`crates/taskhub-server/assets/`) over the public API: `GET /tasks`, the task writes
//! and `GET /events/stream`.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const PAGE: &str = include_str!("../../assets/board.html");
const SCRIPT: &str = include_str!("../../assets/board.js");
const STYLE: &str = include_str!("../../assets/board.css");

/// Browsers revalidate on every load, so a new binary's page is picked up at once.
const CACHE: HeaderValue = HeaderValue::from_static("no-cache");

pub(crate) async fn page() -> Response {
    asset_response("text/html; charset=utf-8", PAGE)
}

pub(crate) async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    match file.as_str() {
        "board.js" => Ok(asset_response("text/javascript; charset=utf-8", SCRIPT)),
        "board.css" => Ok(asset_response("text/css; charset=utf-8", STYLE)),
        _ => Err(ApiError::NoRoute(format!("/assets/{file}"))),
    }
}

fn asset_response(content_type: &'static str, body: &'static str) -> Response {
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
