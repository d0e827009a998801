//! `--max-header-bytes`: a request whose head (target and headers) is larger gets 431.
//!
//! hyper's read buffer is set a little larger than the limit (see `connections`), so
//! heads up to it arrive here and get a problem+json answer; a head larger than even
//! that buffer is refused by hyper itself, with a bare 431.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub(crate) async fn limit_head(
    State(limit): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let target = request.uri().to_string().len();
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if target + headers > limit {
        return ApiError::HeadTooLarge { limit }.into_response();
    }
    next.run(request).await
}
