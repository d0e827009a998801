//! `GET /metrics`: the process's metrics in the Prometheus text format.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::metrics::METRICS;

pub(crate) async fn render() -> Response {
    let mut response = METRICS.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
