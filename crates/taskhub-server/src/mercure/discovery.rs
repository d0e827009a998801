//! Discovery (draft-07): responses about resources say which hub pushes their updates,
//! with `Link: </.well-known/mercure>; rel="mercure"`.

use axum::http::HeaderValue;
use axum::http::header::LINK;
use axum::response::Response;

/// Adds the hub's `Link` to a response of the tasks API.
pub(crate) async fn link_header(mut response: Response) -> Response {
    response.headers_mut().append(
        LINK,
        HeaderValue::from_static("</.well-known/mercure>; rel=\"mercure\""),
    );
    response
}
