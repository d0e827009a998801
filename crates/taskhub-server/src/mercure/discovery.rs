//! Where the hub is: its path, fixed by the protocol, and discovery (draft-07): responses
//! about resources say which hub pushes their updates, with
//! `Link: </.well-known/mercure>; rel="mercure"`.

use std::sync::LazyLock;

use axum::http::HeaderValue;
use axum::http::header::LINK;
use axum::response::Response;

/// The hub's path.
pub(crate) const PATH: &str = "/.well-known/mercure";

/// The `Link` value naming the hub, built once.
static LINK_TO_HUB: LazyLock<HeaderValue> = LazyLock::new(|| {
    HeaderValue::from_str(&format!("<{PATH}>; rel=\"mercure\""))
        .expect("the path is a constant of visible ASCII")
});

/// Adds the hub's `Link` to a response of the tasks API.
pub(crate) async fn link_header(mut response: Response) -> Response {
    response.headers_mut().append(LINK, LINK_TO_HUB.clone());
    response
}
